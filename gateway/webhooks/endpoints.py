"""``GET /v1/events/unmatched`` (an operator whose role may read them, ``clients.authorization``): provider webhook events that matched no
connection, newest first, without their data."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.clients.authorization import authorize
from gateway.kit import query
from gateway.kit.pagination import parse_limit
from gateway.resources import resources
from gateway.webhooks import unmatched

PARAMETERS = ("type", "limit", "cursor")


async def list_unmatched(request: Request) -> Response:
    await authorize(request)
    params = request.query_params
    query.only(params, PARAMETERS)
    event_type = query.text(params, "type", max_length=unmatched.MAX_TYPE_LENGTH)
    limit = parse_limit(params.get("limit"))
    page = await resources(request).db.read(
        lambda session: unmatched.page(
            session, event_type=event_type, cursor=params.get("cursor"), limit=limit
        )
    )
    items = [unmatched.event_json(event) for event in page.items]
    return JSONResponse({"items": items, "next_cursor": page.next_cursor})
