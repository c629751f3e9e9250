"""No page shows a token or a key, every page carries the console's security headers, and the
console never answers on the public listener."""

from __future__ import annotations

import httpx

from gateway.console.headers import HEADERS
from gateway.kit.db import Database
from gateway.public_port import is_public
from tests.admin.conftest import connected
from tests.console.conftest import Admin, csrf_of, post_form
from tests.fixtures.stack import Stack


async def every_page(
    console: httpx.AsyncClient, http: httpx.AsyncClient, service_key: str, db: Database
) -> list[httpx.Response]:
    """Every console page with a connected user on it, refreshed and then revoked."""
    connection = await connected(http, service_key, db)
    detail = f"/console/connections/{connection.id}"
    pages = [
        await console.get("/console/connections"),
        await console.get("/console/connections", params={"user": connection.user_id}),
        await console.get(detail),
        await post_form(console, detail, f"{detail}/refresh"),
        await console.get(f"{detail}/revoke"),
        await post_form(console, f"{detail}/revoke", f"{detail}/revoke"),
        await console.get(detail),
        await console.get("/console/clients"),
        await console.get("/console/connections/not-a-connection"),
    ]
    token = csrf_of(pages[0].text)
    pages.append(await console.post("/console/sign-out", data={"csrf": token}))
    pages.append(await console.get("/console/sign-in"))
    return pages


async def test_no_page_shows_a_token_or_a_key(
    console: httpx.AsyncClient,
    operator: Admin,
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    stack: Stack,
) -> None:
    pages = await every_page(console, http, service_key, db)

    issued = stack.sandbox_store.issued_tokens()
    assert issued, "the sandbox issued no token: the test would prove nothing"
    secrets = [*issued, operator.key, service_key]
    for response in pages:
        text = response.text + str(response.headers)
        for secret in secrets:
            assert secret not in text, f"{response.request.url} shows a secret"


async def test_every_console_response_carries_the_security_headers(
    console: httpx.AsyncClient, http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    pages = await every_page(console, http, service_key, db)
    pages.append(await console.get("/console/console.css"))

    for response in pages:
        for name, value in HEADERS.items():
            assert response.headers.get(name) == value, f"{name} on {response.request.url}"
    csp = HEADERS["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src" not in csp


def test_the_console_is_not_a_public_path() -> None:
    for path in ("/console", "/console/", "/console/sign-in", "/console/connections"):
        assert not is_public(path, "GET")
