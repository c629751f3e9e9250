"""``/v1/clients``: service clients through the admin API, an operator's (``manage_clients``).

POST creates one (its key shown once), GET lists them; ``/{name}`` GET shows one, PATCH changes its
scopes, allow rules, confinement, user pattern, rate limit or ``enabled``, DELETE disables it;
``/{name}/key`` POST gives it a new key (shown once). No caller may hand out or touch a role above
its own (``authorization.require_role``): an ``operator`` key cannot make a ``security`` key, change
one, or give itself ``security``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.clients.authorization import authorize
from gateway.clients.store import find_client, list_clients
from gateway.clients.views import client_json
from gateway.kit.request_body import parse_json
from gateway.management import clients as management
from gateway.management.clients import (
    MAX_PATTERN_LENGTH,
    MAX_RULES,
    MAX_SCOPES,
    ClientPatch,
    NewClient,
    RateLimitBody,
    changes_of,
    check_grant,
    managed,
)
from gateway.resources import resources

NO_STORE = {"Cache-Control": "no-store"}


class ClientRequest(BaseModel):
    """``POST /v1/clients``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=MAX_SCOPES)
    allow: list[str] = Field(default_factory=list, max_length=MAX_RULES)
    own_users_only: bool = False
    user_pattern: str | None = Field(None, max_length=MAX_PATTERN_LENGTH)
    rate_limit: RateLimitBody | None = None


async def clients_collection(request: Request) -> Response:
    if request.method == "POST":
        return await create_client(request)
    await authorize(request)
    items = await resources(request).db.read(_listed)
    return JSONResponse({"items": items})


async def _listed(session: AsyncSession) -> list[dict[str, Any]]:
    return [client_json(found) for found in await list_clients(session)]


async def create_client(request: Request) -> Response:
    caller = await authorize(request)
    body = await parse_json(request, ClientRequest)
    check_grant(caller.role, body.scopes)
    new = NewClient.of(
        body.name,
        body.scopes,
        body.allow,
        own_users_only=body.own_users_only,
        user_pattern=body.user_pattern,
        rate_limit=body.rate_limit,
    )
    async with resources(request).db.transaction() as session:
        client, issued = await management.create(session, new, actor=caller.actor)
        answer = client_json(client)
    return JSONResponse({**answer, "key": issued.key}, status_code=201, headers=NO_STORE)


async def client(request: Request) -> Response:
    """``/v1/clients/{name}``: GET shows it, PATCH changes it, DELETE disables it."""
    caller = await authorize(request)
    name = request.path_params["name"]
    res = resources(request)
    if request.method == "GET":
        found = await res.db.read(lambda session: find_client(session, name))
        return JSONResponse(client_json(found))
    patch = await parse_json(request, ClientPatch) if request.method == "PATCH" else None
    async with res.db.transaction() as session:
        current = await managed(session, caller.role, name)
        if patch is None:
            changed = await management.disable(session, name, actor=caller.actor)
        else:
            if patch.scopes is not None:
                check_grant(caller.role, patch.scopes)
            changes = changes_of(current, patch)
            changed = await management.change(session, name, changes, actor=caller.actor)
        answer = client_json(changed)
    return JSONResponse(answer)


async def rotate_key(request: Request) -> Response:
    """``POST /v1/clients/{name}/key``: a new key, shown once; the old one stops working now."""
    caller = await authorize(request)
    name = request.path_params["name"]
    async with resources(request).db.transaction() as session:
        await managed(session, caller.role, name)
        rotated, issued = await management.rotate_key(session, name, actor=caller.actor)
        answer = client_json(rotated)
    return JSONResponse({**answer, "key": issued.key}, headers=NO_STORE)
