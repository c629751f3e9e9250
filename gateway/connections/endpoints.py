"""The admin API over connections (scope ``admin``): list, show, refresh, revoke, import."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.clients.auth import require_client
from gateway.clients.store import Principal
from gateway.connections import queries
from gateway.connections.importing import ImportRequest, import_grant
from gateway.connections.refreshing import refresh_now
from gateway.connections.revocation import Revoker
from gateway.connections.views import connection_json
from gateway.kit import query
from gateway.kit.body import parse_json
from gateway.kit.pagination import parse_limit
from gateway.models import ConnectionStatus
from gateway.resources import Resources, resources

LIST_PARAMETERS = ("user_id", "provider", "status", "limit", "cursor")


def actor(principal: Principal) -> str:
    return f"client:{principal.name}"


async def list_connections(request: Request) -> Response:
    await require_client(request, "admin")
    params = request.query_params
    query.only(params, LIST_PARAMETERS)
    status = query.choice(params, "status", queries.STATUSES)
    where = queries.ConnectionFilter(
        user_id=query.text(params, "user_id", max_length=255),
        provider=query.text(params, "provider", max_length=64),
        status=ConnectionStatus(status) if status is not None else None,
    )
    limit = parse_limit(params.get("limit"))
    page = await resources(request).db.read(
        lambda session: queries.page(session, where, cursor=params.get("cursor"), limit=limit)
    )
    items = [connection_json(connection) for connection in page.items]
    return JSONResponse({"items": items, "next_cursor": page.next_cursor})


async def connection(request: Request) -> Response:
    """``/v1/connections/{connection_id}``: GET shows it, DELETE revokes it."""
    if request.method == "DELETE":
        return await revoke_connection(request)
    return await get_connection(request)


async def get_connection(request: Request) -> Response:
    await require_client(request, "admin")
    connection_id = queries.parse_id(request.path_params["connection_id"])
    connection = await resources(request).db.read(
        lambda session: queries.get(session, connection_id)
    )
    return JSONResponse(connection_json(connection))


async def revoke_connection(request: Request) -> Response:
    principal = await require_client(request, "admin")
    connection_id = queries.parse_id(request.path_params["connection_id"])
    revocation = await revoker(resources(request)).revoke(connection_id, actor=actor(principal))
    body = connection_json(revocation.connection)
    body["upstream_revocation"] = revocation.upstream
    return JSONResponse(body)


async def refresh_connection(request: Request) -> Response:
    await require_client(request, "admin")
    connection_id = queries.parse_id(request.path_params["connection_id"])
    res = resources(request)
    connection = await refresh_now(res.db, res.refresher, connection_id)
    return JSONResponse(connection_json(connection))


async def import_connection(request: Request) -> Response:
    principal = await require_client(request, "admin")
    body = await parse_json(request, ImportRequest)
    res = resources(request)
    imported = await import_grant(
        res.db,
        res.keys,
        res.providers,
        res.settings,
        body,
        actor=actor(principal),
        client_id=principal.client_id,
    )
    return JSONResponse(
        connection_json(imported.connection), status_code=201 if imported.created else 200
    )


def revoker(res: Resources) -> Revoker:
    return Revoker(res.db, res.keys, res.providers, res.settings, res.http)
