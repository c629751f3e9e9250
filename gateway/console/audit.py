"""The audit page: the trail newest first, filtered by actor, action, connection and time, paged."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from gateway.audit import store
from gateway.audit.filters import FILTERS, chosen
from gateway.console.guard import Operator, operator_page
from gateway.console.render import page
from gateway.kit import query
from gateway.kit.pagination import DEFAULT_LIMIT
from gateway.resources import resources

PATH = "/console/audit"


@operator_page
async def list_audit(request: Request, operator: Operator) -> Response:
    # A submitted form's empty field means no filter.
    given = QueryParams(
        {name: value.strip() for name, value in request.query_params.items() if value.strip()}
    )
    query.only(given, (*FILTERS, "cursor"))
    entries = chosen(given)
    cursor = given.get("cursor")
    found = await resources(request).db.read(
        lambda session: store.page(session, entries, cursor=cursor, limit=DEFAULT_LIMIT)
    )
    form = {name: given.get(name, "") for name in FILTERS}
    shown = {name: value for name, value in form.items() if value}
    return page(
        "audit.html",
        operator=operator,
        form=form,
        entries=[store.event_json(event) for event in found.items],
        next_url=f"{PATH}?{urlencode({**shown, 'cursor': found.next_cursor})}"
        if found.next_cursor
        else None,
        first_url=f"{PATH}?{urlencode(shown)}" if cursor else None,
    )
