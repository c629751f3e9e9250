"""The admin API over connections: list, show, update, obtain a fresh token, verify, refresh,
revoke (and what a revocation would do), import, store a credential, transfer, create a
client-credentials connection.

Listing, showing, updating, the token operation, verifying and creating a client-credentials
connection take an operator's admin key or a ``connect``-scope client (``access``: it sees
what ``may_see`` admits and changes what it owns); the rest are an operator's. Which role each
needs is declared in ``clients.authorization``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.clients.authorization import authorize, require
from gateway.clients.store import Principal
from gateway.connections import access, client_credentials, ownership, queries, updating
from gateway.connections.importing import ImportRequest, import_grant
from gateway.connections.labels import MAX_SELECTORS, Selector
from gateway.connections.on_demand import refresh_now
from gateway.connections.ownership import Actor
from gateway.connections.revocation import Revoker
from gateway.connections.stored_credentials import CredentialRequest, store_credential
from gateway.connections.verification import Verifier
from gateway.connections.views import connections_json, etag, one_json, revocation_json
from gateway.exceptions import BadRequest
from gateway.kit import query
from gateway.kit.db import Database
from gateway.kit.merge_patch import MEDIA_TYPES
from gateway.kit.pagination import parse_limit
from gateway.kit.request_body import parse_json
from gateway.models import AuthMode, Connection, ConnectionStatus
from gateway.providers.profile import DEFAULT_PROFILE
from gateway.providers.spender import OPERATOR, Spender
from gateway.resources import Resources, resources

LIST_PARAMETERS = (
    "user_id",
    "provider",
    "status",
    "external_id",
    "label",
    "enabled",
    "auth_mode",
    "limit",
    "cursor",
)


def actor(principal: Principal) -> str:
    return f"client:{principal.name}"


def acting(who: Actor) -> str:
    """How the audit trail names ``who``."""
    return f"client:{who.name}" if who.name is not None else ownership.OPERATOR


class TransferRequest(BaseModel):
    """``POST /v1/connections/{id}/transfer``: ``to`` is a client's name or ``operator``."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=1, max_length=100)


async def shown(db: Database, connection: Connection) -> dict[str, Any]:
    """The connection's JSON, its owner's name and external ids read in a transaction of its own."""
    async with db.transaction() as session:
        return await one_json(session, connection)


def with_etag(body: dict[str, Any], connection: Connection) -> Response:
    return JSONResponse(body, headers={"ETag": etag(connection)})


def label_selectors(values: list[str]) -> tuple[Selector, ...]:
    if len(values) > MAX_SELECTORS:
        raise BadRequest(f"at most {MAX_SELECTORS} label selectors", code="invalid_label")
    try:
        return tuple(Selector.parse(value) for value in values)
    except ValueError as exc:
        raise BadRequest(f"label must be key or key=value: {exc}", code="invalid_label") from exc


def list_filter(params: QueryParams, who: Actor) -> queries.ConnectionFilter:
    status = query.choice(params, "status", queries.STATUSES)
    enabled = query.choice(params, "enabled", ("true", "false"))
    auth_mode = query.choice(params, "auth_mode", queries.AUTH_MODES)
    return queries.ConnectionFilter(
        user_id=query.text(params, "user_id", max_length=255),
        provider=query.text(params, "provider", max_length=64),
        status=ConnectionStatus(status) if status is not None else None,
        external_id=query.text(params, "external_id", max_length=255),
        labels=label_selectors(params.getlist("label")),
        enabled=None if enabled is None else enabled == "true",
        auth_mode=AuthMode(auth_mode) if auth_mode is not None else None,
        visible=access.visibility(who),
    )


async def list_connections(request: Request) -> Response:
    who = await access.connections_actor(request)
    params = request.query_params
    query.only(params, LIST_PARAMETERS)
    where = list_filter(params, who)
    limit = parse_limit(params.get("limit"))

    async def read(session: AsyncSession) -> tuple[list[dict[str, Any]], str | None]:
        page = await queries.page(session, where, cursor=params.get("cursor"), limit=limit)
        visible = [c for c in page.items if access.may_see(who, c)]
        return await connections_json(session, visible), page.next_cursor

    items, next_cursor = await resources(request).db.read(read)
    return JSONResponse({"items": items, "next_cursor": next_cursor})


async def connection(request: Request) -> Response:
    """``/v1/connections/{connection_id}``: GET shows it, PATCH updates it, DELETE revokes it."""
    if request.method == "DELETE":
        return await revoke_connection(request)
    if request.method == "PATCH":
        return await update_connection(request)
    return await get_connection(request)


async def get_connection(request: Request) -> Response:
    who = await access.connections_actor(request)
    connection_id = queries.parse_id(request.path_params["connection_id"])

    async def read(session: AsyncSession) -> tuple[dict[str, Any], Connection]:
        connection = await access.seen(session, who, connection_id)
        return await one_json(session, connection), connection

    body, connection = await resources(request).db.read(read)
    return with_etag(body, connection)


async def update_connection(request: Request) -> Response:
    """``PATCH``: a JSON Merge Patch of the settable fields (``updating``); its owner's or an
    operator's, conditional with ``If-Match``."""
    caller = await authorize(request)
    who = access.actor_of(caller)
    connection_id = queries.parse_id(request.path_params["connection_id"])
    patch = await parse_json(request, updating.ConnectionPatch, media_types=MEDIA_TYPES)
    require(caller, updating.permission_of(patch))
    res = resources(request)
    async with res.db.transaction() as session:
        connection = await access.changed_by(session, who, connection_id)
        updating.check_precondition(connection, request.headers.get("if-match"))
        # Only settings need the provider's profile (and only they need it configured).
        profile = (
            res.providers.get(connection.provider).profile
            if patch.given("settings")
            else DEFAULT_PROFILE
        )
        await updating.apply(
            session, connection, patch, actor=who, audit_actor=acting(who), profile=profile
        )
        body = await one_json(session, connection)
    return with_etag(body, connection)


async def obtain_token(request: Request) -> Response:
    """``POST /v1/connections/{id}/token``: a fresh access token from the stored grant, obtained
    and stored now (a forced refresh, spending the caller's share of the provider's budget, or
    the operator's); answers the connection's state, never the token. Its owner's or an
    operator's."""
    who = await access.connections_actor(request)
    connection_id = queries.parse_id(request.path_params["connection_id"])
    res = resources(request)
    async with res.db.transaction() as session:
        await access.changed_by(session, who, connection_id, for_update=False)
    spender = OPERATOR if who.operator else Spender.client(who.client_id)
    connection = await refresh_now(res.db, res.refresher, connection_id, spender)
    return with_etag(await shown(res.db, connection), connection)


async def verify_connection(request: Request) -> Response:
    """``POST /v1/connections/{id}/verify``: ask the provider now whether it takes the connection's
    credential (``verification``); ``{"verified": true, ...}``, or 422 ``credential_rejected``
    with the provider's reason. For whoever may see the connection."""
    who = await access.connections_actor(request)
    connection_id = queries.parse_id(request.path_params["connection_id"])
    verified = await verifier(resources(request)).verify(
        connection_id, actor=who, audit_actor=acting(who)
    )
    return JSONResponse(
        {
            "verified": True,
            "connection_id": str(connection_id),
            "auth_mode": verified.connection.auth_mode,
            "method": verified.method,
        }
    )


async def create_client_credentials(request: Request) -> Response:
    """``POST /v1/connections/client-credentials``: an app-level connection whose token the gateway
    obtains with its own client credentials (``client_credentials``); an operator's, or a
    ``connect`` client's for a user id its pattern admits (it owns the connection)."""
    who = await access.connections_actor(request)
    body = await parse_json(request, client_credentials.ClientCredentialsRequest)
    res = resources(request)
    created = await client_credentials.create(
        res.db, res.keys, res.providers, res.settings, body, actor=who, audit_actor=acting(who)
    )
    return JSONResponse(
        await shown(res.db, created), status_code=201, headers={"ETag": etag(created)}
    )


async def revoke_connection(request: Request) -> Response:
    principal = (await authorize(request)).principal
    connection_id = queries.parse_id(request.path_params["connection_id"])
    revocation = await revoker(resources(request)).revoke(connection_id, actor=actor(principal))
    body = await shown(resources(request).db, revocation.connection)
    body.update(revocation.outcome())
    body["revocation"] = revocation_json(revocation.plan)
    return JSONResponse(body)


async def revocation_preview(request: Request) -> Response:
    """``GET /v1/connections/{connection_id}/revocation``: what revoking it would do; changes nothing."""
    await authorize(request)
    connection_id = queries.parse_id(request.path_params["connection_id"])
    plan = await revoker(resources(request)).preview(connection_id)
    return JSONResponse(revocation_json(plan))


async def refresh_connection(request: Request) -> Response:
    await authorize(request)
    connection_id = queries.parse_id(request.path_params["connection_id"])
    res = resources(request)
    connection = await refresh_now(res.db, res.refresher, connection_id, OPERATOR)
    return with_etag(await shown(res.db, connection), connection)


async def import_connection(request: Request) -> Response:
    principal = (await authorize(request)).principal
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


async def store_credential_connection(request: Request) -> Response:
    """``POST /v1/connections/credentials``: an operator supplies a stored credential (verified
    with the provider first); the connection, never the credential."""
    principal = (await authorize(request)).principal
    body = await parse_json(request, CredentialRequest)
    res = resources(request)
    stored = await store_credential(
        res.db,
        res.keys,
        res.providers,
        res.http,
        res.settings,
        body,
        actor=actor(principal),
        client_id=principal.client_id,
    )
    return JSONResponse(
        await shown(res.db, stored.connection), status_code=201 if stored.created else 200
    )


async def transfer_connection(request: Request) -> Response:
    """``POST /v1/connections/{id}/transfer``: a new owner, and the space that owner decides."""
    principal = (await authorize(request)).principal
    connection_id = queries.parse_id(request.path_params["connection_id"])
    body = await parse_json(request, TransferRequest)
    async with resources(request).db.transaction() as session:
        connection = await ownership.transfer(
            session, connection_id, body.to, actor=actor(principal)
        )
        shown_body = await one_json(session, connection)
    return JSONResponse(shown_body)


def revoker(res: Resources) -> Revoker:
    return Revoker(res.db, res.keys, res.providers, res.settings, res.http)


def verifier(res: Resources) -> Verifier:
    return Verifier(res.db, res.keys, res.providers, res.http, res.refresher)
