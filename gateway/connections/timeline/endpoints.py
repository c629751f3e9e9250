"""``GET /v1/connections/{id}/events`` and ``GET /v1/connections/{id}/events/{entry_id}``: the
connection's timeline, for operators and for ``connect`` clients that may see the connection
(``connections.access``); one they may not see is 404 ``connection_not_found``."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.connections import access, queries
from gateway.connections.timeline import sources
from gateway.connections.timeline.entries import KINDS, TimelineEntry, entry_json
from gateway.kit import query
from gateway.kit.pagination import Page, parse_limit
from gateway.resources import resources

PARAMETERS = ("kind", "since", "until", "limit", "cursor")


async def list_timeline(request: Request) -> Response:
    actor = await access.connections_actor(request)
    connection_id = queries.parse_id(request.path_params["connection_id"])
    params = request.query_params
    query.only(params, PARAMETERS)
    where = sources.TimelineFilter(
        kinds=query.choices(params, "kind", KINDS),
        since=query.moment(params, "since"),
        until=query.moment(params, "until"),
    )
    limit = parse_limit(params.get("limit"))

    async def read(session: AsyncSession) -> Page[TimelineEntry]:
        await access.seen(session, actor, connection_id)
        return await sources.page(
            session, connection_id, where, cursor=params.get("cursor"), limit=limit
        )

    page = await resources(request).db.read(read)
    items = [entry_json(entry) for entry in page.items]
    return JSONResponse({"items": items, "next_cursor": page.next_cursor})


async def timeline_entry(request: Request) -> Response:
    actor = await access.connections_actor(request)
    connection_id = queries.parse_id(request.path_params["connection_id"])

    async def read(session: AsyncSession) -> TimelineEntry:
        await access.seen(session, actor, connection_id)
        entry_id = sources.parse_entry_id(request.path_params["entry_id"])
        return await sources.entry(session, connection_id, entry_id)

    return JSONResponse(entry_json(await resources(request).db.read(read)))
