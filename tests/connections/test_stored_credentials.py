"""Stored-credential connections end to end: an operator supplies an API key, a basic credential
or a header's value; the gateway verifies it with the provider, seals it, proxies with it and
erases it on revocation; the secret never comes back, and is never stored or logged in the clear."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import httpx
import pytest

from gateway.kit.db import Database
from gateway.models import ConnectionStatus
from tests.connections.stored_fixtures import (
    API_KEY,
    HEADER_VALUE,
    PASSWORD,
    SECRETS,
    USERNAME,
    KeyedStack,
    api_key_body,
    gw,
    keyed_stack,
    stored_text,
    user,
)
from tests.hostile.owner_fixtures import Clients, clients, error_code, rows

__all__ = ["clients", "gw", "keyed_stack"]  # fixtures

CREDENTIALS = "/v1/connections/credentials"


async def supply(gw: httpx.AsyncClient, clients: Clients, body: dict[str, Any]) -> httpx.Response:
    """``POST /v1/connections/credentials`` as an operator."""
    return await gw.post(CREDENTIALS, json=body, headers=clients.operator.auth)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


async def test_an_operator_stores_a_verified_api_key(
    gw: httpx.AsyncClient, clients: Clients, db: Database
) -> None:
    user_id = user()
    response = await supply(gw, clients, api_key_body(user_id))
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["auth_mode"], body["status"], body["is_default"]) == ("api_key", "active", True)
    assert body["access_token_expires_at"] is None
    assert_no_secret(response.text)
    [row] = await rows(db, user_id)
    assert row.credential is not None and row.access_token is None
    assert row.next_refresh_at is None  # the refresher never picks it
    assert_no_secret(await stored_text(db))


async def test_a_key_the_provider_rejects_is_not_stored(
    gw: httpx.AsyncClient, clients: Clients, db: Database
) -> None:
    user_id = user()
    wrong = "sk_live_wrong_" + uuid.uuid4().hex
    response = await supply(
        gw, clients, {"user_id": user_id, "provider": "keyed", "api_key": wrong}
    )
    assert response.status_code == 422, response.text
    assert error_code(response) == "credential_rejected"
    details = response.json()["error"]["details"]
    assert details["upstream_status"] == 401
    assert "invalid_credentials" in details["reason"]
    assert wrong not in response.text
    assert await rows(db, user_id) == []


async def test_the_proxy_carries_the_key_upstream_and_never_back(
    gw: httpx.AsyncClient, clients: Clients
) -> None:
    user_id = user()
    stored = await supply(gw, clients, api_key_body(user_id, owner=clients.open_.name))
    connection_id = stored.json()["id"]
    by_user = await gw.get(
        f"/proxy/users/{user_id}/me", headers={**clients.open_.auth, "Gateway-Provider": "keyed"}
    )
    assert by_user.status_code == 200, by_user.text
    assert by_user.json()["scheme"] == "bearer"
    by_id = await gw.get(
        f"/proxy/connections/{connection_id}/items/a/b", headers=clients.open_.auth
    )
    assert by_id.status_code == 200, by_id.text
    assert by_id.json() == {"method": "GET", "path": "a/b", "scheme": "bearer", "body_bytes": 0}
    for response in (by_user, by_id):
        assert_no_secret(response.text)
        assert_no_secret(str(response.headers))


@pytest.mark.parametrize(
    ("provider", "fields", "scheme"),
    [
        ("keyed-basic", {"username": USERNAME, "password": PASSWORD}, "basic"),
        ("keyed-header", {"value": HEADER_VALUE}, "header"),
    ],
)
async def test_basic_and_header_credentials_are_injected_as_their_profile_says(
    gw: httpx.AsyncClient, clients: Clients, provider: str, fields: dict[str, str], scheme: str
) -> None:
    user_id = user()
    response = await supply(
        gw,
        clients,
        {"user_id": user_id, "provider": provider, "owner": clients.open_.name, **fields},
    )
    assert response.status_code == 201, response.text
    assert response.json()["auth_mode"] == scheme
    proxied = await gw.get(
        f"/proxy/users/{user_id}/me", headers={**clients.open_.auth, "Gateway-Provider": provider}
    )
    assert proxied.status_code == 200, proxied.text
    assert proxied.json()["scheme"] == scheme
    assert_no_secret(proxied.text)


async def test_the_fields_must_match_the_providers_kind(
    gw: httpx.AsyncClient, clients: Clients
) -> None:
    mixed = await supply(
        gw, clients, {"user_id": user(), "provider": "keyed-basic", "api_key": API_KEY}
    )
    assert mixed.status_code == 400, mixed.text
    assert error_code(mixed) == "validation_error"
    assert mixed.json()["error"]["details"]["missing"] == ["username", "password"]
    oauth = await supply(gw, clients, {"user_id": user(), "provider": "contio", "api_key": API_KEY})
    assert oauth.status_code == 400, oauth.text
    assert error_code(oauth) == "not_a_credential_provider"
    for response in (mixed, oauth):
        assert_no_secret(response.text)


async def test_a_key_that_cannot_go_in_a_header_is_refused(
    gw: httpx.AsyncClient, clients: Clients
) -> None:
    response = await supply(
        gw, clients, {"user_id": user(), "provider": "keyed", "api_key": "sk\r\nX-Injected: 1"}
    )
    assert response.status_code == 400, response.text
    assert error_code(response) == "validation_error"
    assert "X-Injected" not in response.text


async def test_oauth_tokens_are_not_imported_for_a_stored_credential_provider(
    gw: httpx.AsyncClient, clients: Clients
) -> None:
    response = await gw.post(
        "/v1/connections/import",
        json={"user_id": user(), "provider": "keyed", "access_token": "a", "refresh_token": "r"},
        headers=clients.operator.auth,
    )
    assert response.status_code == 400, response.text
    assert error_code(response) == "not_an_oauth_provider"


async def test_supplying_a_key_again_replaces_it_on_the_same_connection(
    gw: httpx.AsyncClient, clients: Clients, db: Database
) -> None:
    user_id = user()
    first = await supply(gw, clients, api_key_body(user_id))
    [before] = await rows(db, user_id)
    again = await supply(gw, clients, api_key_body(user_id))
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    [after] = await rows(db, user_id)
    assert after.token_version > before.token_version
    assert after.credential != before.credential  # sealed afresh


async def test_revocation_erases_the_credential(
    gw: httpx.AsyncClient, clients: Clients, db: Database
) -> None:
    user_id = user()
    stored = await supply(gw, clients, api_key_body(user_id, owner=clients.open_.name))
    connection_id = stored.json()["id"]
    proxied = await gw.get(f"/proxy/connections/{connection_id}/me", headers=clients.open_.auth)
    assert proxied.status_code == 200, proxied.text
    revoked = await gw.delete(f"/v1/connections/{connection_id}", headers=clients.operator.auth)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    [row] = await rows(db, user_id)
    assert (row.status, row.credential) == (ConnectionStatus.REVOKED, None)
    refused = await gw.get(f"/proxy/connections/{connection_id}/me", headers=clients.open_.auth)
    assert refused.status_code == 410, refused.text
    assert error_code(refused) == "connection_revoked"


async def test_a_stored_credential_has_nothing_to_refresh(
    gw: httpx.AsyncClient, clients: Clients, db: Database
) -> None:
    user_id = user()
    stored = await supply(gw, clients, api_key_body(user_id))
    connection_id = stored.json()["id"]
    for path in ("refresh", "token"):
        response = await gw.post(
            f"/v1/connections/{connection_id}/{path}", headers=clients.operator.auth
        )
        assert response.status_code == 409, response.text
        assert error_code(response) == "nothing_to_refresh"
    [row] = await rows(db, user_id)
    assert row.status is ConnectionStatus.ACTIVE


async def test_without_a_verification_request_the_key_is_stored_unchecked(
    gw: httpx.AsyncClient, clients: Clients
) -> None:
    response = await supply(
        gw,
        clients,
        {"user_id": user(), "provider": "keyed-unchecked", "api_key": "anything-at-all"},
    )
    assert response.status_code == 201, response.text


async def test_a_401_for_a_stored_credential_goes_back_as_it_is(
    gw: httpx.AsyncClient, clients: Clients, db: Database
) -> None:
    """Nothing replaces a stored credential: the provider's 401 reaches the caller, and the
    connection is neither refreshed nor marked."""
    user_id = user()
    stored = await supply(
        gw,
        clients,
        {
            "user_id": user_id,
            "provider": "keyed-unchecked",
            "api_key": "stale-key",
            "owner": clients.open_.name,
        },
    )
    connection_id = stored.json()["id"]
    for _ in range(2):
        refused = await gw.get(f"/proxy/connections/{connection_id}/me", headers=clients.open_.auth)
        assert refused.status_code == 401, refused.text
        assert refused.json()["code"] == "invalid_credentials"  # the provider's own answer
    [row] = await rows(db, user_id)
    assert (row.status, row.last_refresh_error, row.unauthorized_refresh_at) == (
        ConnectionStatus.ACTIVE,
        None,
        None,
    )


async def test_only_an_operator_supplies_credentials(
    gw: httpx.AsyncClient, clients: Clients
) -> None:
    response = await gw.post(CREDENTIALS, json=api_key_body(user()), headers=clients.open_.auth)
    assert response.status_code == 403, response.text


async def test_ownership_holds_for_stored_credentials(
    gw: httpx.AsyncClient, clients: Clients, db: Database
) -> None:
    """Stored for the confined client A: A proxies with it; C, unconfined, sees nothing of it, by
    user or by id; B cannot take it over by supplying a key for the same user."""
    user_id = user()
    stored = await supply(gw, clients, api_key_body(user_id, owner=clients.confined.name))
    assert stored.status_code == 201, stored.text
    assert stored.json()["confined"] is True
    connection_id = stored.json()["id"]
    mine = await gw.get(
        f"/proxy/users/{user_id}/me", headers={**clients.confined.auth, "Gateway-Provider": "keyed"}
    )
    assert mine.status_code == 200, mine.text
    for response in (
        await gw.get(
            f"/proxy/users/{user_id}/me",
            headers={**clients.open_.auth, "Gateway-Provider": "keyed"},
        ),
        await gw.get(f"/proxy/connections/{connection_id}/me", headers=clients.open_.auth),
        await gw.get(f"/v1/connections/{connection_id}", headers=clients.open_.auth),
    ):
        assert response.status_code == 404, response.text
        assert error_code(response) == "connection_not_found"
    # C's own key for the same user lands in the shared space, beside A's, not over it.
    shared = await supply(gw, clients, api_key_body(user_id, owner=clients.open_.name))
    assert shared.status_code == 201, shared.text
    assert shared.json()["id"] != connection_id
    # In the shared space, the default belongs to C: B may not replace its key.
    taken = await supply(gw, clients, api_key_body(user_id, owner=clients.patterned.name))
    assert taken.status_code == 409, taken.text
    assert error_code(taken) == "connection_owned_by_other_client"
    assert len(await rows(db, user_id)) == 2


async def test_no_secret_reaches_the_logs(
    gw: httpx.AsyncClient,
    clients: Clients,
    keyed_stack: KeyedStack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    user_id = user()
    stored = await supply(gw, clients, api_key_body(user_id, owner=clients.open_.name))
    await supply(gw, clients, {"user_id": user(), "provider": "keyed", "api_key": API_KEY + "-not"})
    await gw.get(f"/proxy/connections/{stored.json()['id']}/me", headers=clients.open_.auth)
    assert caplog.records
    assert_no_secret(caplog.text)
    assert API_KEY + "-not" not in caplog.text
