"""``/v1/connections/{connection_id}/keys``: issue (POST), list (GET) and revoke (DELETE
``.../keys/{key_id}``) a connection's delegated keys; its owner (a ``connect`` client) or an
operator (an admin key whose role may, ``clients.authorization``) only, as
``access.changed_by`` decides."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.clients.authorization import authorize
from gateway.connections import access, delegated_keys, queries
from gateway.connections.delegated_keys import DelegatedKeyRequest
from gateway.connections.endpoints import actor
from gateway.kit import query
from gateway.kit.pagination import parse_limit
from gateway.kit.request_body import parse_json
from gateway.resources import resources

LIST_PARAMETERS = ("limit", "cursor")


async def connection_keys(request: Request) -> Response:
    """``/v1/connections/{connection_id}/keys``: POST issues one, GET lists them."""
    if request.method == "POST":
        return await issue_key(request)
    return await list_keys(request)


async def issue_key(request: Request) -> Response:
    caller = await authorize(request)
    principal = caller.principal
    connection_id = queries.parse_id(request.path_params["connection_id"])
    body = await parse_json(request, DelegatedKeyRequest)
    async with resources(request).db.transaction() as session:
        connection = await access.changed_by(session, access.actor_of(caller), connection_id)
        key, issued = await delegated_keys.issue(
            session,
            connection,
            principal,
            ttl_seconds=body.ttl_seconds,
            allow=body.allow,
            actor=actor(principal),
        )
        answer = delegated_keys.issued_json(key, issued, {principal.client_id: principal.name})
    return JSONResponse(answer, status_code=201, headers={"Cache-Control": "no-store"})


async def list_keys(request: Request) -> Response:
    caller = await authorize(request)
    connection_id = queries.parse_id(request.path_params["connection_id"])
    params = request.query_params
    query.only(params, LIST_PARAMETERS)
    limit = parse_limit(params.get("limit"))

    async def read(session: AsyncSession) -> dict[str, Any]:
        await access.changed_by(session, access.actor_of(caller), connection_id, for_update=False)
        items, next_cursor = await delegated_keys.listing(
            session, connection_id, cursor=params.get("cursor"), limit=limit
        )
        return {"items": items, "next_cursor": next_cursor}

    return JSONResponse(await resources(request).db.read(read))


async def revoke_key(request: Request) -> Response:
    """``DELETE /v1/connections/{connection_id}/keys/{key_id}``: 204, also when already revoked."""
    caller = await authorize(request)
    principal = caller.principal
    connection_id = queries.parse_id(request.path_params["connection_id"])
    async with resources(request).db.transaction() as session:
        await access.changed_by(session, access.actor_of(caller), connection_id)
        await delegated_keys.revoke(
            session,
            connection_id,
            request.path_params["key_id"],
            actor=actor(principal),
        )
    return Response(status_code=204)
