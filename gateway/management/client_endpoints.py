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

from gateway.clients.authorization import Caller, authorize, require_role
from gateway.clients.limits import RateLimit
from gateway.clients.store import ClientChanges, find_client, list_clients
from gateway.clients.views import client_json
from gateway.kit.request_body import parse_json
from gateway.management import clients as management
from gateway.management.clients import NewClient, rate_limit_of
from gateway.models import ServiceClient
from gateway.operators.roles import role_of_scopes
from gateway.resources import resources

NO_STORE = {"Cache-Control": "no-store"}
MAX_SCOPES = 10
MAX_RULES = 100
MAX_PATTERN_LENGTH = 500


class RateLimitBody(BaseModel):
    """``rate``: ``RATE/UNIT`` as the CLI takes it (``50/s``, ``3000/min``); ``burst`` optional."""

    model_config = ConfigDict(extra="forbid")

    rate: str = Field(max_length=40)
    burst: int | None = Field(None, ge=1, le=1_000_000)


class ClientRequest(BaseModel):
    """``POST /v1/clients``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=MAX_SCOPES)
    allow: list[str] = Field(default_factory=list, max_length=MAX_RULES)
    own_users_only: bool = False
    user_pattern: str | None = Field(None, max_length=MAX_PATTERN_LENGTH)
    rate_limit: RateLimitBody | None = None


class ClientPatch(BaseModel):
    """``PATCH /v1/clients/{name}``: a given list replaces the client's; ``null`` lifts a user
    pattern or a rate limit; ``enabled`` false disables the client, true enables it again."""

    model_config = ConfigDict(extra="forbid")

    scopes: list[str] | None = Field(None, min_length=1, max_length=MAX_SCOPES)
    allow: list[str] | None = Field(None, max_length=MAX_RULES)
    own_users_only: bool | None = None
    user_pattern: str | None = Field(None, max_length=MAX_PATTERN_LENGTH)
    rate_limit: RateLimitBody | None = None
    enabled: bool | None = None


def _limit(body: RateLimitBody | None) -> RateLimit | None:
    return None if body is None else rate_limit_of(body.rate, body.burst)


def changes_of(client: ServiceClient, patch: ClientPatch) -> ClientChanges:
    """The patch as ``clients.store``'s changes to ``client`` as it is."""
    given = patch.model_fields_set
    scopes = set(client.scopes) if patch.scopes is None else set(patch.scopes)
    rules = list(client.allow_rules) if patch.allow is None else patch.allow
    return ClientChanges(
        add_allow=[rule for rule in rules if rule not in client.allow_rules],
        remove_allow=[rule for rule in client.allow_rules if rule not in rules],
        add_scopes=sorted(scopes - set(client.scopes)),
        remove_scopes=sorted(set(client.scopes) - scopes),
        own_users_only=patch.own_users_only,
        user_pattern=patch.user_pattern,
        clear_user_pattern="user_pattern" in given and patch.user_pattern is None,
        rate_limit=_limit(patch.rate_limit),
        clear_rate_limit="rate_limit" in given and patch.rate_limit is None,
        disabled=None if patch.enabled is None else not patch.enabled,
    )


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
    require_role(caller, role_of_scopes(body.scopes))
    settings = ClientChanges(
        own_users_only=body.own_users_only or None,
        user_pattern=body.user_pattern,
        rate_limit=_limit(body.rate_limit),
    )
    new = NewClient(body.name, body.scopes, body.allow, settings)
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
        current = await _managed(session, caller, name)
        if patch is None:
            changed = await management.disable(session, name, actor=caller.actor)
        else:
            if patch.scopes is not None:
                require_role(caller, role_of_scopes(patch.scopes))
            changes = changes_of(current, patch)
            changed = await management.change(session, name, changes, actor=caller.actor)
        answer = client_json(changed)
    return JSONResponse(answer)


async def rotate_key(request: Request) -> Response:
    """``POST /v1/clients/{name}/key``: a new key, shown once; the old one stops working now."""
    caller = await authorize(request)
    name = request.path_params["name"]
    async with resources(request).db.transaction() as session:
        await _managed(session, caller, name)
        rotated, issued = await management.rotate_key(session, name, actor=caller.actor)
        answer = client_json(rotated)
    return JSONResponse({**answer, "key": issued.key}, headers=NO_STORE)


async def _managed(session: AsyncSession, caller: Caller, name: str) -> ServiceClient:
    """The named client, locked, if the caller's role is at least the client's own."""
    found = await find_client(session, name, for_update=True)
    require_role(caller, role_of_scopes(found.scopes))
    return found
