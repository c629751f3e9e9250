"""``POST /v1/connections/revocations``: revoke every connection a selector matches, confirmed by
their number (``bulk_revocation``: 428 ``confirmation_required`` with ``details.affected`` until
``confirm`` echoes it). The answer comes once the connections are revoked here; their revocations at
the provider are queued for the background retry (``provider_revocations: queued``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.clients.authorization import authorize
from gateway.connections import queries
from gateway.connections.bulk_revocation import revoke_confirmed
from gateway.connections.endpoints import label_selectors
from gateway.connections.labels import MAX_SELECTORS
from gateway.kit.request_body import parse_json
from gateway.models import ConnectionStatus
from gateway.resources import resources

MAX_CONFIRM = 1_000_000


class SelectorRevocation(BaseModel):
    """What to revoke (at least one of the selectors) and the confirmation."""

    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(None, min_length=1, max_length=255)
    provider: str | None = Field(None, min_length=1, max_length=64)
    status: ConnectionStatus | None = None
    label: list[str] = Field(default_factory=list, max_length=MAX_SELECTORS)
    confirm: int | None = Field(None, ge=0, le=MAX_CONFIRM, strict=True)

    @model_validator(mode="after")
    def _selects(self) -> SelectorRevocation:
        if self.status is ConnectionStatus.REVOKED:
            raise ValueError("revoked connections are revoked already")
        if not (self.user_id or self.provider or self.status or self.label):
            raise ValueError("give user_id, provider, status or label")
        return self


async def revoke_selected(request: Request) -> Response:
    caller = await authorize(request)
    body = await parse_json(request, SelectorRevocation)
    where = queries.ConnectionFilter(
        user_id=body.user_id,
        provider=body.provider,
        status=body.status,
        labels=label_selectors(body.label),
    )
    res = resources(request)
    done = await revoke_confirmed(
        res.db, res.keys, res.settings, where, confirm=body.confirm, actor=caller.actor
    )
    items = [{"connection_id": str(one.connection_id), **one.outcome()} for one in done.revoked]
    return JSONResponse(
        {
            "revoked": len(items),
            "skipped": done.skipped,
            "provider_revocations": "queued",
            "provider_revocations_queued": done.queued,
            "items": items,
        }
    )
