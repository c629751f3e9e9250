"""``POST /v1/connections/revocations``: revoke every connection a selector matches (a user's, a
provider's, those in a status or with labels), an operator's dangerous act.

It must be confirmed: ``confirm`` must echo the number of connections the selector matches now,
else 428 ``confirmation_required`` with that number in ``details.affected`` (and nothing is
revoked), so a caller sees what it is about to do and a selector that grew since is refused. Each
connection is revoked as ``DELETE /v1/connections/{id}`` revokes one, audited with the caller.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.clients.authorization import authorize
from gateway.connections import queries
from gateway.connections.endpoints import label_selectors, revoker
from gateway.connections.labels import MAX_SELECTORS
from gateway.exceptions import GatewayError
from gateway.kit.request_body import parse_json
from gateway.models import ConnectionStatus
from gateway.resources import resources

MAX_CONFIRM = 1_000_000


class ConfirmationRequired(GatewayError):
    """Raised when a dangerous act's ``confirm`` is missing or does not echo what it would affect."""

    status_code = 428
    code = "confirmation_required"


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
    targets = await res.db.read(lambda session: queries.revocable(session, where))
    if body.confirm != len(targets):
        raise ConfirmationRequired(
            f"this revokes {len(targets)} connection(s): send confirm={len(targets)} to do it",
            details={"affected": len(targets)},
        )
    revoking = revoker(res)
    items = []
    for target in targets:
        revocation = await revoking.revoke(target.id, actor=caller.actor)
        items.append({"connection_id": str(target.id), **revocation.outcome()})
    return JSONResponse({"revoked": len(items), "items": items})
