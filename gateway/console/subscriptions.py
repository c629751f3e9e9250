"""Subscriptions in the console: the list (per client), a form to create one, its page (its
secrets' expiries, its delivery log), and the actions: enable or disable, rotate the secret (the new
one shown once, on the page the action redirects to), replay an abandoned delivery.

Each goes through the code of the admin API and the CLI (``subscriptions.checks`` and ``store``) as
the signed-in operator, audited under their name.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from gateway.clients.store import find_client, list_clients
from gateway.console import shown_once
from gateway.console.guard import Operator, operator_page
from gateway.console.outcomes import refused
from gateway.console.render import page, see_other
from gateway.events import subscriptions as stored
from gateway.exceptions import GatewayError
from gateway.kit import query
from gateway.models import ServiceClient
from gateway.resources import resources
from gateway.subscriptions import checks, store

LIST = "/console/subscriptions"
LOG_LENGTH = 50


def detail_path(subscription_id: uuid.UUID) -> str:
    return f"{LIST}/{subscription_id}"


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


@operator_page
async def list_subscriptions(request: Request, operator: Operator) -> Response:
    return await list_page(request, operator, dict(request.query_params))


async def list_page(
    request: Request,
    operator: Operator,
    form: dict[str, str],
    outcome: Any = None,
    status_code: int = 200,
) -> Response:
    """The list (``form["client"]``'s only, when given) with the creation form filled from
    ``form``."""
    query.only(request.query_params, ("client",))
    async with resources(request).db.transaction() as session:
        clients = list(await list_clients(session))
        names = {client.id: client.name for client in clients}
        wanted = form.get("client") or None
        owner = (await find_client(session, wanted)).id if wanted else None
        found = await store.page(session, owner, cursor=None, limit=200)
    items = [{**store.as_json(item), "client": names.get(item.client_id)} for item in found.items]
    return page(
        "subscriptions.html",
        status_code=status_code,
        operator=operator,
        subscriptions=items,
        clients=[client.name for client in clients],
        form=form,
        outcome=outcome,
    )


@operator_page
async def create(request: Request, operator: Operator) -> Response:
    res = resources(request)
    submitted = await request.form()
    form = {name: _field(submitted, name) for name in ("client", "url", "event_types", "labels")}
    try:
        spec = await checks.checked_spec(
            stored.egress_policy(res.settings),
            form["url"],
            form["event_types"].split(),
            form["labels"].split(),
        )
        async with res.db.transaction() as session:
            client = await find_client(session, form["client"])
            item, secret = await stored.create(session, res.keys, client.id, spec)
            store.audited(session, operator.actor, "created", item.id)
    except GatewayError as exc:
        outcome = refused("subscription_not_created", "No subscription created", exc)
        return await list_page(request, operator, form, outcome, exc.status_code)
    return _with_secret(detail_path(item.id), secret, operator, request)


def _with_secret(path: str, secret: str, operator: Operator, request: Request) -> Response:
    res = resources(request)
    response = see_other(path)
    shown_once.keep(
        response, secret, path=path, session=operator.session, keys=res.keys, settings=res.settings
    )
    return response


@operator_page
async def show(request: Request, operator: Operator) -> Response:
    res = resources(request)
    subscription_id = store.parse_id(request.path_params["subscription_id"])
    async with res.db.transaction() as session:
        item = await store.find(session, subscription_id, None)
        expiries = await stored.secret_expiries(session, item.id)
        log = await store.deliveries(session, item.id, None, LOG_LENGTH)
        client = await session.get(ServiceClient, item.client_id)
    path = detail_path(subscription_id)
    secret = shown_once.take(request, path=path, session=operator.session, keys=res.keys)
    response = page(
        "subscription.html",
        operator=operator,
        s=store.as_json(item, expiries),
        client=client.name if client else str(item.client_id),
        deliveries=log,
        secret=secret,
    )
    shown_once.forget(response, path=path, settings=res.settings)
    return response


@operator_page
async def set_enabled(request: Request, operator: Operator) -> Response:
    subscription_id = store.parse_id(request.path_params["subscription_id"])
    enabled = _field(await request.form(), "enabled") == "true"
    async with resources(request).db.transaction() as session:
        item = await store.find(session, subscription_id, None, for_update=True)
        checks.Changes(enabled=enabled).apply(item)
        store.audited(session, operator.actor, "updated", item.id)
    return see_other(detail_path(subscription_id))


@operator_page
async def rotate(request: Request, operator: Operator) -> Response:
    res = resources(request)
    subscription_id = store.parse_id(request.path_params["subscription_id"])
    overlap = timedelta(seconds=res.settings.subscription_secret_overlap_seconds)
    async with res.db.transaction() as session:
        item = await store.find(session, subscription_id, None, for_update=True)
        secret = await stored.rotate(session, res.keys, item.id, overlap=overlap)
        store.audited(session, operator.actor, "secret_rotated", item.id)
    return _with_secret(detail_path(subscription_id), secret, operator, request)


@operator_page
async def replay(request: Request, operator: Operator) -> Response:
    subscription_id = store.parse_id(request.path_params["subscription_id"])
    delivery_id = query.id_in_path(request.path_params["delivery_id"]) or uuid.UUID(int=0)
    async with resources(request).db.transaction() as session:
        await store.find(session, subscription_id, None)
        await store.replay(session, subscription_id, delivery_id)
        store.audited(session, operator.actor, "delivery_replayed", subscription_id)
    return see_other(f"{detail_path(subscription_id)}#deliveries")
