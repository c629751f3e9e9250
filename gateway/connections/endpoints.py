"""The admin API over connections (scope ``admin``): list, show, refresh, revoke (and what a
revocation would do), import, transfer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.clients.auth import require_client
from gateway.clients.store import Principal
from gateway.connections import ownership, queries
from gateway.connections.importing import ImportRequest, import_grant
from gateway.connections.on_demand import refresh_now
from gateway.connections.revocation import Revoker
from gateway.connections.views import connection_json, revocation_json
from gateway.kit import query
from gateway.kit.db import Database
from gateway.kit.pagination import parse_limit
from gateway.kit.request_body import parse_json
from gateway.models import Connection, ConnectionStatus
from gateway.providers.spender import OPERATOR
from gateway.resources import Resources, resources

LIST_PARAMETERS = ("user_id", "provider", "status", "limit", "cursor")


def actor(principal: Principal) -> str:
    return f"client:{principal.name}"


class TransferRequest(BaseModel):
    """``POST /v1/connections/{id}/transfer``: ``to`` is a client's name or ``operator``."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=1, max_length=100)


async def shown(db: Database, connection: Connection) -> dict[str, Any]:
    """The connection's JSON, its owner's name read in a transaction of its own."""
    async with db.transaction() as session:
        owner = await ownership.owner_name(session, connection)
    return connection_json(connection, owner)


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

    async def read(session: AsyncSession) -> tuple[list[dict[str, Any]], str | None]:
        page = await queries.page(session, where, cursor=params.get("cursor"), limit=limit)
        names = await ownership.owner_names(session, page.items)
        items = [
            connection_json(connection, ownership.owner_label(connection, names))
            for connection in page.items
        ]
        return items, page.next_cursor

    items, next_cursor = await resources(request).db.read(read)
    return JSONResponse({"items": items, "next_cursor": next_cursor})


async def connection(request: Request) -> Response:
    """``/v1/connections/{connection_id}``: GET shows it, DELETE revokes it."""
    if request.method == "DELETE":
        return await revoke_connection(request)
    return await get_connection(request)


async def get_connection(request: Request) -> Response:
    await require_client(request, "admin")
    connection_id = queries.parse_id(request.path_params["connection_id"])

    async def read(session: AsyncSession) -> dict[str, Any]:
        connection = await queries.get(session, connection_id)
        return connection_json(connection, await ownership.owner_name(session, connection))

    return JSONResponse(await resources(request).db.read(read))


async def revoke_connection(request: Request) -> Response:
    principal = await require_client(request, "admin")
    connection_id = queries.parse_id(request.path_params["connection_id"])
    revocation = await revoker(resources(request)).revoke(connection_id, actor=actor(principal))
    body = await shown(resources(request).db, revocation.connection)
    body.update(revocation.outcome())
    body["revocation"] = revocation_json(revocation.plan)
    return JSONResponse(body)


async def revocation_preview(request: Request) -> Response:
    """``GET /v1/connections/{connection_id}/revocation``: what revoking it would do; changes nothing."""
    await require_client(request, "admin")
    connection_id = queries.parse_id(request.path_params["connection_id"])
    plan = await revoker(resources(request)).preview(connection_id)
    return JSONResponse(revocation_json(plan))


async def refresh_connection(request: Request) -> Response:
    await require_client(request, "admin")
    connection_id = queries.parse_id(request.path_params["connection_id"])
    res = resources(request)
    connection = await refresh_now(res.db, res.refresher, connection_id, OPERATOR)
    return JSONResponse(await shown(res.db, connection))


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
        spender=OPERATOR,  # the admin API is an operator's
    )
    return JSONResponse(
        await shown(res.db, imported.connection), status_code=201 if imported.created else 200
    )


async def transfer_connection(request: Request) -> Response:
    """``POST /v1/connections/{id}/transfer``: a new owner, and the space that owner decides."""
    principal = await require_client(request, "admin")
    connection_id = queries.parse_id(request.path_params["connection_id"])
    body = await parse_json(request, TransferRequest)
    async with resources(request).db.transaction() as session:
        connection = await ownership.transfer(
            session, connection_id, body.to, actor=actor(principal)
        )
        owner = await ownership.owner_name(session, connection)
    return JSONResponse(connection_json(connection, owner))


def revoker(res: Resources) -> Revoker:
    return Revoker(res.db, res.keys, res.providers, res.settings, res.http)
