"""``/v1/subscriptions``: a service client (``connect`` scope) manages its own subscriptions, an
operator (an admin key whose role may, ``clients.authorization``) anyone's; another client's subscription is answered as if it did not exist.

POST creates one (its first secret shown once), GET lists them; ``/{id}`` GET, PATCH, DELETE;
``/{id}/secrets`` POST rotates (the new secret shown once); ``/{id}/deliveries`` GET is the delivery
log, ``/{id}/deliveries/{delivery_id}/replay`` POST re-sends an abandoned one; ``/{id}/ping`` POST
sends a ``gateway.ping`` at once and answers how it went.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.clients.authorization import authorize
from gateway.clients.store import ClientNotFound, Principal
from gateway.events import subscriptions
from gateway.exceptions import Forbidden
from gateway.kit import query
from gateway.kit.egress import MAX_URL_LENGTH
from gateway.kit.pagination import parse_limit
from gateway.kit.request_body import parse_json
from gateway.models import ServiceClient
from gateway.resources import Resources, resources
from gateway.subscriptions import checks, store
from gateway.subscriptions.errors import InvalidDeliveryState
from gateway.subscriptions.store import DELIVERY_STATES

NO_STORE = {"Cache-Control": "no-store"}
MAX_OVERLAP_SECONDS = 30 * 24 * 3600
MAX_TYPES = 50


class SubscriptionRequest(BaseModel):
    """``POST /v1/subscriptions``; ``client_id`` is an operator's, to subscribe for a client."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=MAX_URL_LENGTH)
    event_types: list[str] = Field(min_length=1, max_length=MAX_TYPES)
    label_selector: list[str] = Field(default_factory=list, max_length=checks.MAX_SELECTORS)
    enabled: bool = True
    client_id: uuid.UUID | None = None


class SubscriptionPatch(BaseModel):
    """``PATCH /v1/subscriptions/{id}``: what is given replaces what was."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, max_length=MAX_URL_LENGTH)
    event_types: list[str] | None = Field(None, min_length=1, max_length=MAX_TYPES)
    label_selector: list[str] | None = Field(None, max_length=checks.MAX_SELECTORS)
    enabled: bool | None = None


class RotationRequest(BaseModel):
    """``POST /v1/subscriptions/{id}/secrets``: how long the current secrets keep signing."""

    model_config = ConfigDict(extra="forbid")

    overlap_seconds: int | None = Field(None, ge=0, le=MAX_OVERLAP_SECONDS, strict=True)


async def caller(request: Request) -> tuple[Principal, uuid.UUID | None]:
    """The caller, and whose subscriptions it may see (None: an operator, everyone's)."""
    found = await authorize(request)
    return found.principal, None if found.operator else found.principal.client_id


def _actor(principal: Principal) -> str:
    return f"client:{principal.name}"


async def subscriptions_collection(request: Request) -> Response:
    if request.method == "POST":
        return await create_subscription(request)
    return await list_subscriptions(request)


async def create_subscription(request: Request) -> Response:
    principal, owner = await caller(request)
    body = await parse_json(request, SubscriptionRequest)
    client_id = body.client_id or principal.client_id
    if owner is not None and client_id != owner:
        raise Forbidden("only an operator subscribes for another client", code="operator_only")
    found = resources(request)
    spec = await checks.checked_spec(
        subscriptions.egress_policy(found.settings),
        body.url,
        body.event_types,
        body.label_selector,
        enabled=body.enabled,
    )
    async with found.db.transaction() as session:
        if await session.get(ServiceClient, client_id) is None:
            raise ClientNotFound(
                "no service client has this id", details={"client_id": str(client_id)}
            )
        subscription, secret = await subscriptions.create(session, found.keys, client_id, spec)
        store.audited(session, _actor(principal), "created", subscription.id)
        answer = store.as_json(subscription, [None])
    return JSONResponse({**answer, "secret": secret}, status_code=201, headers=NO_STORE)


async def list_subscriptions(request: Request) -> Response:
    _principal, owner = await caller(request)
    params = request.query_params
    query.only(params, ("client_id", "limit", "cursor"))
    limit = parse_limit(params.get("limit"))
    wanted = query.uuid_param(params, "client_id")
    if owner is not None and wanted not in (None, owner):
        return JSONResponse({"items": [], "next_cursor": None})  # another client's: none it sees
    listed_for = wanted or owner

    async def read(session: AsyncSession) -> dict[str, Any]:
        found = await store.page(session, listed_for, cursor=params.get("cursor"), limit=limit)
        items = [store.as_json(item) for item in found.items]
        return {"items": items, "next_cursor": found.next_cursor}

    return JSONResponse(await resources(request).db.read(read))


async def subscription(request: Request) -> Response:
    """``/v1/subscriptions/{subscription_id}``: GET, PATCH, DELETE."""
    principal, owner = await caller(request)
    subscription_id = store.parse_id(request.path_params["subscription_id"])
    found = resources(request)
    if request.method == "GET":

        async def read(session: AsyncSession) -> dict[str, Any]:
            item = await store.find(session, subscription_id, owner)
            return store.as_json(item, await subscriptions.secret_expiries(session, item.id))

        return JSONResponse(await found.db.read(read))
    if request.method == "DELETE":
        async with found.db.transaction() as session:
            item = await store.find(session, subscription_id, owner, for_update=True)
            await session.delete(item)
            store.audited(session, _actor(principal), "deleted", subscription_id)
        return Response(status_code=204)
    return await update_subscription(request, principal, owner, subscription_id, found)


async def update_subscription(
    request: Request,
    principal: Principal,
    owner: uuid.UUID | None,
    subscription_id: uuid.UUID,
    found: Resources,
) -> Response:
    patch = await parse_json(request, SubscriptionPatch)
    changes = await checks.checked_changes(
        subscriptions.egress_policy(found.settings),
        url=patch.url,
        event_types=patch.event_types,
        label_selector=patch.label_selector,
        enabled=patch.enabled,
    )
    async with found.db.transaction() as session:
        item = await store.find(session, subscription_id, owner, for_update=True)
        changes.apply(item)
        store.audited(session, _actor(principal), "updated", subscription_id)
        await session.flush()
        await session.refresh(item)
        answer = store.as_json(item, await subscriptions.secret_expiries(session, item.id))
    return JSONResponse(answer)


async def rotate_secret(request: Request) -> Response:
    principal, owner = await caller(request)
    subscription_id = store.parse_id(request.path_params["subscription_id"])
    body = (
        await parse_json(request, RotationRequest)
        if request.headers.get("content-type")
        else RotationRequest()
    )
    found = resources(request)
    default = found.settings.subscription_secret_overlap_seconds
    overlap = timedelta(seconds=default if body.overlap_seconds is None else body.overlap_seconds)
    async with found.db.transaction() as session:
        item = await store.find(session, subscription_id, owner, for_update=True)
        secret = await subscriptions.rotate(session, found.keys, item.id, overlap=overlap)
        store.audited(session, _actor(principal), "secret_rotated", subscription_id)
        answer = store.as_json(item, await subscriptions.secret_expiries(session, item.id))
    return JSONResponse({**answer, "secret": secret}, status_code=201, headers=NO_STORE)


async def list_deliveries(request: Request) -> Response:
    _principal, owner = await caller(request)
    subscription_id = store.parse_id(request.path_params["subscription_id"])
    params = request.query_params
    query.only(params, ("state", "limit"))
    limit = parse_limit(params.get("limit"))
    state = params.get("state")
    if state is not None and state not in DELIVERY_STATES:
        raise InvalidDeliveryState(
            f"state is one of {', '.join(DELIVERY_STATES)}",
            details={"allowed": list(DELIVERY_STATES)},
        )

    async def read(session: AsyncSession) -> dict[str, Any]:
        await store.find(session, subscription_id, owner)
        return {"items": await store.deliveries(session, subscription_id, state, limit)}

    return JSONResponse(await resources(request).db.read(read))


async def replay_delivery(request: Request) -> Response:
    principal, owner = await caller(request)
    subscription_id = store.parse_id(request.path_params["subscription_id"])
    delivery_id = query.id_in_path(request.path_params["delivery_id"]) or uuid.UUID(int=0)
    async with resources(request).db.transaction() as session:
        await store.find(session, subscription_id, owner)
        await store.replay(session, subscription_id, delivery_id)
        store.audited(session, _actor(principal), "delivery_replayed", subscription_id)
    return JSONResponse({"replayed": 1, "delivery_id": str(delivery_id)})


async def ping(request: Request) -> Response:
    """Write a ``gateway.ping`` for the (enabled) subscription and send it now."""
    _principal, owner = await caller(request)
    subscription_id = store.parse_id(request.path_params["subscription_id"])
    found = resources(request)
    deliverer = store.deliverer(found.db, found.http, found.keys, found.settings)
    return JSONResponse(await store.ping(found.db, deliverer, subscription_id, owner))
