"""The console by role over real HTTP: each page names the operator's role, renders only the forms
the role may post, and refuses the rest server-side even with a valid CSRF token."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from gateway.kit.db import Database
from gateway.operators.roles import permits, role_of_scopes
from gateway.operators.route_permissions import CONSOLE
from tests.console.conftest import csrf_of, new_operator, sign_in
from tests.e2e.flows import connect_new_user, load_connection
from tests.fixtures.stack import Stack, new_client

FORM_IDS = ("refresh", "verify", "pause", "revoke", "save", "issue-key")


@asynccontextmanager
async def signed_in(stack: Stack, db: Database, scope: str) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie jar signed in with a new key holding ``scope``."""
    operator = await new_operator(db, (scope,))
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=10) as browser:
        answer = await sign_in(browser, operator.key)
        assert answer.status_code == 303, answer.text
        yield browser


def shown_ids(html: str) -> set[str]:
    return {i for i in FORM_IDS if re.search(rf'id="{i}"', html)}


async def test_each_role_sees_its_own_forms_and_its_role(
    http: httpx.AsyncClient, stack: Stack, db: Database
) -> None:
    key = await new_client(db, ["connect", "proxy"], ["GET /**"])
    connection = await load_connection(db, await connect_new_user(http, key))
    page = f"/console/connections/{connection.id}"
    expected = {
        "viewer": set(),
        "support": {"refresh", "verify", "pause"},
        "operator": set(FORM_IDS),
        "security": set(FORM_IDS),
        "admin": set(FORM_IDS),
    }
    for scope, forms in expected.items():
        async with signed_in(stack, db, scope) as browser:
            opened = await browser.get(page)
            assert opened.status_code == 200, opened.text
            role = "security" if scope == "admin" else scope
            assert f'data-role="{role}"' in opened.text
            assert shown_ids(opened.text) == forms, scope
            clients_link = 'href="/console/clients"' in opened.text
            assert clients_link is (role in ("operator", "security"))


async def test_a_role_is_refused_server_side_what_it_is_not_shown(
    http: httpx.AsyncClient, stack: Stack, db: Database
) -> None:
    key = await new_client(db, ["connect", "proxy"], ["GET /**"])
    connection = await load_connection(db, await connect_new_user(http, key))
    page = f"/console/connections/{connection.id}"
    async with signed_in(stack, db, "viewer") as viewer:
        csrf = csrf_of((await viewer.get(page)).text)  # the sign-out form's
        paused = await viewer.post(f"{page}/pause", data={"csrf": csrf})
        assert paused.status_code == 403 and "support" in paused.text
        clients = await viewer.get("/console/clients")
        assert clients.status_code == 403
    async with signed_in(stack, db, "support") as support:
        csrf = csrf_of((await support.get(page)).text)
        revoked = await support.post(f"{page}/revoke", data={"csrf": csrf})
        assert revoked.status_code == 403 and "operator" in revoked.text
        paused = await support.post(f"{page}/pause", data={"csrf": csrf})
        assert paused.status_code in (200, 303), paused.text
    assert (await load_connection(db, connection.user_id)).status.value == "active"


async def test_a_key_without_a_role_cannot_sign_in(stack: Stack, db: Database) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=10) as browser:
        client = await new_operator(db, ("connect", "proxy"))
        answer = await sign_in(browser, client.key)
        assert answer.status_code == 403


def concrete(path: str) -> str:
    """A console route with unknown ids (and an unknown client's name) in its parameters."""
    for name in ("connection_id", "key_id", "subscription_id", "delivery_id"):
        path = path.replace(f"{{{name}}}", str(uuid.uuid4()))
    return path.replace("{name}", f"nobody-{uuid.uuid4().hex[:8]}")


@pytest.mark.parametrize("scope", ["viewer", "support", "operator", "security"])
async def test_each_role_passes_exactly_the_console_pages_its_permissions_allow(
    stack: Stack, db: Database, scope: str
) -> None:
    role = role_of_scopes([scope])
    async with signed_in(stack, db, scope) as console:
        csrf = csrf_of((await console.get("/console/connections")).text)
        for (method, path), permission in CONSOLE.items():
            data = {"csrf": csrf} if method == "POST" else None
            response = await console.request(method, concrete(path), data=data)
            refused = response.status_code == 403 and "role_required" in response.text
            assert refused is not permits(role, permission), (scope, method, path)
