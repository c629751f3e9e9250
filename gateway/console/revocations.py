"""Revoking every connection a selector matches (a provider's, a user's, those in a status or
with labels): the console's side of ``connections.bulk_revocation``, a dangerous action.

The page is the selector's form; with a selector it is the confirmation step: how many connections
it matches now (counted by the database) and the first ``SHOWN`` of them (the only ones read), and
a field where the operator types that number. Both the confirmation step and the revocation need a
fresh sign-in (``guard.fresh_sign_in_needed``, which comes back to the confirmation step). A number
that is not the count now is refused (428) with the step shown again at the new count; each
connection revoked is audited as the operator's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from gateway.connections import queries
from gateway.connections.bulk_revocation import preview, revoke_confirmed
from gateway.connections.endpoints import label_selectors
from gateway.console.guard import Operator, fresh_sign_in_needed, operator_page
from gateway.console.render import page
from gateway.exceptions import BadRequest, ConfirmationRequired
from gateway.models import ConnectionStatus
from gateway.resources import resources

PATH = "/console/revocations"
SHOWN = 50
STATUSES = tuple(s.value for s in ConnectionStatus if s is not ConnectionStatus.REVOKED)
FIELDS = ("provider", "status", "label", "user_id")


@dataclass(frozen=True)
class Selection:
    """The selector as the form wrote it (``fields``) and as a filter (``where``; None: empty)."""

    fields: dict[str, str]
    where: queries.ConnectionFilter | None

    @property
    def url(self) -> str:
        return f"{PATH}?{urlencode(self.fields)}"


def _selection(given: Mapping[str, object]) -> Selection:
    fields = {
        name: value.strip()
        for name in FIELDS
        if isinstance(value := given.get(name), str) and value.strip()
    }
    for name, value in fields.items():
        if len(value) > 255 or not value.isprintable():
            raise BadRequest(
                f"{name} must be 1 to 255 printable characters", code=f"invalid_{name}"
            )
    status = fields.get("status")
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}", code="invalid_status")
    if not fields:
        return Selection(fields, None)
    where = queries.ConnectionFilter(
        user_id=fields.get("user_id"),
        provider=fields.get("provider"),
        status=ConnectionStatus(status) if status else None,
        labels=label_selectors(fields.get("label", "").replace(",", " ").split()),
    )
    return Selection(fields, where)


async def _confirmation(
    request: Request,
    operator: Operator,
    chosen: Selection,
    *,
    refused: str | None = None,
    status_code: int = 200,
) -> Response:
    res = resources(request)
    assert chosen.where is not None
    found = await preview(res.db, chosen.where, shown=SHOWN)
    return page(
        "revocations.html",
        status_code=status_code,
        operator=operator,
        providers=res.providers.names,
        statuses=STATUSES,
        form=chosen.fields,
        selected=True,
        count=found.count,
        shown=found.first,
        refused=refused,
    )


@operator_page
async def show(request: Request, operator: Operator) -> Response:
    """The selector's form; with a selector, the confirmation step (after a fresh sign-in)."""
    chosen = _selection(request.query_params)
    if chosen.where is None:
        return page(
            "revocations.html",
            operator=operator,
            providers=resources(request).providers.names,
            statuses=STATUSES,
            form={},
            selected=False,
        )
    return fresh_sign_in_needed(request, operator, chosen.url) or await _confirmation(
        request, operator, chosen
    )


@operator_page
async def revoke(request: Request, operator: Operator) -> Response:
    """Revoke what the selector matches when the typed number is their count now."""
    form = await request.form()
    chosen = _selection(form)
    if chosen.where is None:
        raise BadRequest("choose a provider, a status, labels or a user", code="invalid_selector")
    needed = fresh_sign_in_needed(request, operator, chosen.url)
    if needed is not None:
        return needed
    typed = form.get("confirm")
    confirm = int(typed) if isinstance(typed, str) and typed.strip().isdecimal() else None
    res = resources(request)
    try:
        done = await revoke_confirmed(
            res.db, res.keys, res.settings, chosen.where, confirm=confirm, actor=operator.actor
        )
    except ConfirmationRequired:
        refused = "The number typed is not the number of connections the selector matches now."
        return await _confirmation(request, operator, chosen, refused=refused, status_code=428)
    return page(
        "revocations_done.html",
        operator=operator,
        form=chosen.fields,
        revoked=len(done.revoked),
        skipped=done.skipped,
        queued=done.queued,
        items=[
            {"id": str(one.connection_id), "upstream": one.upstream} for one in done.revoked[:SHOWN]
        ],
    )
