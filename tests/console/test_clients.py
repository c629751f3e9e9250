"""Service clients in the console over real HTTP: an operator creates one (its key shown once),
changes it, gives it a new key (shown once), disables it; nothing above the operator's own role."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.kit.db import Database
from tests.console.conftest import csrf_of, new_operator, sign_in
from tests.fixtures.stack import Stack

SECRET = re.compile(r'id="secret">([^<]+)<')


@pytest.fixture
async def operator_console(stack: Stack, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    operator = await new_operator(db, ("operator",))
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=10) as browser:
        assert (await sign_in(browser, operator.key)).status_code == 303
        yield browser


async def posted(
    console: httpx.AsyncClient, page: str, action: str, **fields: str
) -> httpx.Response:
    csrf = csrf_of((await console.get(page)).text)
    return await console.post(action, data={"csrf": csrf, **fields})


async def key_shown_once(console: httpx.AsyncClient, answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    shown = await console.get(answer.headers["location"])
    found = SECRET.search(shown.text)
    assert found is not None, shown.text
    again = await console.get(answer.headers["location"])
    assert SECRET.search(again.text) is None
    return found.group(1)


async def works(http: httpx.AsyncClient, key: str) -> int:
    response = await http.get("/v1/connections", headers={"Authorization": f"Bearer {key}"})
    return response.status_code


async def test_an_operator_creates_changes_rekeys_and_disables_a_client(
    operator_console: httpx.AsyncClient, http: httpx.AsyncClient
) -> None:
    name = f"svc-{uuid.uuid4().hex[:8]}"
    created = await posted(
        operator_console,
        "/console/clients",
        "/console/clients",
        name=name,
        scopes="connect proxy",
        allow="GET /**",
        rate_limit="50/s",
    )
    key = await key_shown_once(operator_console, created)
    assert await works(http, key) == 200
    page = f"/console/clients/{name}"

    edited = await posted(
        operator_console,
        page,
        f"{page}/edit",
        scopes="connect",
        allow="GET /meetings/**\nPOST /meetings",
        own_users_only="on",
        user_pattern="b-.*",
    )
    assert edited.status_code == 303, edited.text
    shown = (await operator_console.get(page)).text
    assert 'id="client-scopes">connect<' in shown and "POST /meetings" in shown

    rotated = await posted(operator_console, page, f"{page}/key")
    new_key = await key_shown_once(operator_console, rotated)
    assert (await works(http, key), await works(http, new_key)) == (401, 200)

    disabled = await posted(operator_console, page, f"{page}/enabled", enabled="false")
    assert disabled.status_code == 303
    assert await works(http, new_key) == 401


async def test_an_operator_grants_no_role_above_their_own(
    operator_console: httpx.AsyncClient, db: Database
) -> None:
    name = f"svc-{uuid.uuid4().hex[:8]}"
    refused = await posted(
        operator_console, "/console/clients", "/console/clients", name=name, scopes="security"
    )
    assert refused.status_code == 403 and "security" in refused.text
    security = await new_operator(db, ("security",))
    page = f"/console/clients/{security.name}"
    for action in ("key", "enabled"):
        attempt = await posted(operator_console, page, f"{page}/{action}", enabled="false")
        assert attempt.status_code == 403, attempt.text
