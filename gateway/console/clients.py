"""Service clients in the console, an operator's (``manage_clients``): the list with a form to create
one, and each client's page to change its scopes, rules, namespace and rate limit, give it a new key,
or disable it.

Each goes through the management API's code (``management.clients``) as the signed-in operator,
audited under their name, with its rules (no role above the operator's own). A key just made is
shown once, on the client's page the POST redirects to (``shown_once``); lists and pages show only
its prefix.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from gateway.clients.service_keys import IssuedKey
from gateway.clients.store import ClientChanges, find_client
from gateway.clients.store import list_clients as all_clients
from gateway.clients.views import client_json
from gateway.console import shown_once
from gateway.console.guard import Operator, operator_page
from gateway.console.render import page, see_other
from gateway.kit.request_body import validated
from gateway.management import clients as management
from gateway.management.clients import ClientPatch, NewClient, changes_of, check_grant, managed
from gateway.resources import resources

CLIENTS = "/console/clients"


def client_path(name: str) -> str:
    return f"{CLIENTS}/{name}"


def _text(form: FormData, field: str) -> str:
    value = form.get(field)
    return value.strip() if isinstance(value, str) else ""


def patch_of(form: FormData) -> ClientPatch:
    """The form as the admin API's ``PATCH`` body: every field given, an empty one lifted."""
    rate = _text(form, "rate_limit")
    burst = _text(form, "burst")
    body: dict[str, Any] = {
        "scopes": _text(form, "scopes").split(),
        "allow": [line.strip() for line in _text(form, "allow").splitlines() if line.strip()],
        "own_users_only": form.get("own_users_only") == "on",
        "user_pattern": _text(form, "user_pattern") or None,
        "rate_limit": {"rate": rate, "burst": burst or None} if rate else None,
    }
    return validated(ClientPatch, body)


def _with_key(response: Response, request: Request, operator: Operator, issued: IssuedKey) -> None:
    res = resources(request)
    path = response.headers["location"]
    shown_once.keep(
        response,
        issued.key,
        path=path,
        session=operator.session,
        keys=res.keys,
        settings=res.settings,
    )


@operator_page
async def list_clients(request: Request, operator: Operator) -> Response:
    async with resources(request).db.transaction() as session:
        clients = [client_json(client) for client in await all_clients(session)]
    return page("clients.html", operator=operator, clients=clients)


@operator_page
async def create(request: Request, operator: Operator) -> Response:
    form = await request.form()
    patch = patch_of(form)
    name = _text(form, "name")
    check_grant(operator.role, patch.scopes or ())
    new = NewClient.of(
        name,
        patch.scopes or (),
        patch.allow or (),
        own_users_only=bool(patch.own_users_only),
        user_pattern=patch.user_pattern,
        rate_limit=patch.rate_limit,
    )
    async with resources(request).db.transaction() as session:
        _client, issued = await management.create(session, new, actor=operator.actor)
    response = see_other(client_path(name))
    _with_key(response, request, operator, issued)
    return response


@operator_page
async def show(request: Request, operator: Operator) -> Response:
    """A client's page; its key this once if it was just made."""
    res = resources(request)
    name = request.path_params["name"]
    async with res.db.transaction() as session:
        shown = client_json(await find_client(session, name))
    path = client_path(name)
    secret = shown_once.take(request, path=path, session=operator.session, keys=res.keys)
    response = page("client.html", operator=operator, client=shown, secret=secret)
    shown_once.forget(response, path=path, settings=res.settings)
    return response


@operator_page
async def edit(request: Request, operator: Operator) -> Response:
    name = request.path_params["name"]
    patch = patch_of(await request.form())
    check_grant(operator.role, patch.scopes or ())
    async with resources(request).db.transaction() as session:
        current = await managed(session, operator.role, name)
        changes = changes_of(current, patch)
        await management.change(session, name, changes, actor=operator.actor)
    return see_other(client_path(name))


@operator_page
async def set_enabled(request: Request, operator: Operator) -> Response:
    name = request.path_params["name"]
    enabled = (await request.form()).get("enabled") == "true"
    async with resources(request).db.transaction() as session:
        await managed(session, operator.role, name)
        if enabled:
            changes = ClientChanges(disabled=False)
            await management.change(session, name, changes, actor=operator.actor)
        else:
            await management.disable(session, name, actor=operator.actor)
    return see_other(client_path(name))


@operator_page
async def rotate_key(request: Request, operator: Operator) -> Response:
    name = request.path_params["name"]
    async with resources(request).db.transaction() as session:
        await managed(session, operator.role, name)
        _client, issued = await management.rotate_key(session, name, actor=operator.actor)
    response = see_other(client_path(name))
    _with_key(response, request, operator, issued)
    return response
