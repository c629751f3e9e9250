"""``GET /v1/audit-events`` (an operator whose role may read them, ``clients.authorization``): the
audit trail, newest first, filtered as the console's audit page filters it (``filters``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.audit import store
from gateway.audit.filters import FILTERS, chosen
from gateway.clients.authorization import authorize
from gateway.kit import query
from gateway.kit.pagination import parse_limit
from gateway.resources import resources

PARAMETERS = (*FILTERS, "limit", "cursor")


async def list_audit_events(request: Request) -> Response:
    await authorize(request)
    params = request.query_params
    query.only(params, PARAMETERS)
    entries = chosen(params)
    limit = parse_limit(params.get("limit"))
    page = await resources(request).db.read(
        lambda session: store.page(
            session,
            entries,
            cursor=params.get("cursor"),
            limit=limit,
        )
    )
    items = [store.event_json(event) for event in page.items]
    return JSONResponse({"items": items, "next_cursor": page.next_cursor})
