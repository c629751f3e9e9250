"""The hosted credential form over real HTTP: a service opens a connect session for an API-key
provider, the user's browser gets the gateway's form, types the key, and the connection exists;
the service never handles the key."""

from __future__ import annotations

import re

import httpx

from gateway.kit.db import Database
from tests.connections.stored_fixtures import (
    API_KEY,
    PASSWORD,
    USERNAME,
    KeyedStack,
    gw,
    keyed_stack,
    stored_text,
    user,
)
from tests.hostile.owner_fixtures import Client, Clients, clients, rows

__all__ = ["clients", "gw", "keyed_stack"]  # fixtures

RETURN_URL = "https://app.example.com/settings"


async def open_form(
    gw: httpx.AsyncClient, client: Client, user_id: str, provider: str = "keyed", **extra: object
) -> tuple[str, str, httpx.Response]:
    """The connect session's form: (action, token, the page)."""
    session = await gw.post(
        "/v1/connect-sessions",
        json={"user_id": user_id, "provider": provider, **extra},
        headers=client.auth,
    )
    assert session.status_code == 201, session.text
    async with httpx.AsyncClient(timeout=10) as browser:
        form = await browser.get(session.json()["connect_url"])
    assert form.status_code == 200, form.text
    action = re.search(r'action="([^"]+)"', form.text)
    token = re.search(r'name="token" value="([^"]+)"', form.text)
    assert action is not None and token is not None
    return action.group(1), token.group(1), form


async def submit(action: str, fields: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as browser:
        return await browser.post(action, data=fields, follow_redirects=False)


async def test_the_user_types_the_key_into_the_gateways_form(
    gw: httpx.AsyncClient, clients: Clients, db: Database
) -> None:
    user_id = user()
    action, token, form = await open_form(gw, clients.open_, user_id)
    assert action.endswith("/connect/credential")
    assert "default-src 'none'" in form.headers["content-security-policy"]
    assert form.headers["x-frame-options"] == "DENY"
    assert 'name="api_key" type="password"' in form.text
    done = await submit(action, {"token": token, "api_key": API_KEY})
    assert done.status_code == 200, done.text
    assert 'data-status="connected"' in done.text
    [row] = await rows(db, user_id)
    assert (row.auth_mode, row.owner_client_id, row.is_default) == (
        "api_key",
        clients.open_.id,
        True,
    )
    assert str(row.id) in done.text
    proxied = await gw.get(
        f"/proxy/users/{user_id}/me", headers={**clients.open_.auth, "Gateway-Provider": "keyed"}
    )
    assert proxied.status_code == 200, proxied.text
    assert API_KEY not in await stored_text(db)
    again = await submit(action, {"token": token, "api_key": API_KEY})
    assert again.status_code == 400
    assert "connect_session_used" in again.text


async def test_a_rejected_key_shows_the_form_again_and_stores_nothing(
    gw: httpx.AsyncClient, clients: Clients, db: Database
) -> None:
    user_id = user()
    action, token, _ = await open_form(gw, clients.open_, user_id)
    refused = await submit(action, {"token": token, "api_key": "not-the-key"})
    assert refused.status_code == 422, refused.text
    assert 'data-code="credential_rejected"' in refused.text
    assert "not-the-key" not in refused.text
    assert await rows(db, user_id) == []
    # The session is still usable: the right key works.
    done = await submit(action, {"token": token, "api_key": API_KEY})
    assert done.status_code == 200, done.text


async def test_the_form_redirects_to_the_return_url_and_asks_for_what_the_kind_needs(
    gw: httpx.AsyncClient, clients: Clients, db: Database
) -> None:
    user_id = user()
    action, token, form = await open_form(
        gw, clients.confined, user_id, "keyed-basic", return_url=RETURN_URL
    )
    assert 'name="username" type="text"' in form.text
    assert 'name="password" type="password"' in form.text
    missing = await submit(action, {"token": token, "username": USERNAME})
    assert missing.status_code == 400
    done = await submit(action, {"token": token, "username": USERNAME, "password": PASSWORD})
    assert done.status_code == 302, done.text
    [row] = await rows(db, user_id)
    assert done.headers["location"].startswith(RETURN_URL + "?")
    assert f"connection_id={row.id}" in done.headers["location"]
    assert row.confined_to_client_id == clients.confined.id  # in the confined client's space


async def test_a_forged_or_oversized_post_is_refused(
    gw: httpx.AsyncClient, clients: Clients, keyed_stack: KeyedStack
) -> None:
    action = f"{keyed_stack.gateway.url}/connect/credential"
    forged = await submit(action, {"token": "made-up", "api_key": API_KEY})
    assert forged.status_code == 400
    assert "invalid_connect_token" in forged.text
    _action, token, _ = await open_form(gw, clients.open_, user())
    huge = await submit(action, {"token": token, "api_key": "k" * 20000})
    assert huge.status_code == 413
