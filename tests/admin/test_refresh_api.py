"""``POST /v1/connections/{id}/refresh``: refresh now, or say why it cannot be done."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import ConnectionStatus
from tests.admin.conftest import connected, reload, tokens_of
from tests.fixtures.stack import Stack


@asynccontextmanager
async def token_endpoint_down(stack: Stack) -> AsyncIterator[None]:
    async with httpx.AsyncClient(base_url=stack.sandbox.url, timeout=10) as sandbox:
        await sandbox.post("/_sandbox/faults", json={"token_endpoint_down": True})
        try:
            yield
        finally:
            await sandbox.delete("/_sandbox/faults")


async def test_refresh_replaces_the_tokens_and_answers_the_connection(
    admin: httpx.AsyncClient,
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    keys: KeyRing,
) -> None:
    connection = await connected(http, service_key, db)
    access, _refresh = tokens_of(keys, connection)

    response = await admin.post(f"/v1/connections/{connection.id}/refresh")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == str(connection.id) and body["last_refreshed_at"] is not None
    after = await reload(db, connection.id)
    assert after.token_version > connection.token_version
    assert tokens_of(keys, after)[0] != access
    assert access not in response.text


async def test_a_rejected_grant_is_409_reauth_required(
    admin: httpx.AsyncClient, http: httpx.AsyncClient, service_key: str, db: Database, stack: Stack
) -> None:
    connection = await connected(http, service_key, db)
    stack.sandbox_store.revoke_user(f"{connection.user_id}@example.com")

    response = await admin.post(f"/v1/connections/{connection.id}/refresh")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "reauth_required"
    assert (await reload(db, connection.id)).status is ConnectionStatus.NEEDS_REAUTH


async def test_an_unreachable_provider_is_503_with_retry_after(
    admin: httpx.AsyncClient, http: httpx.AsyncClient, service_key: str, db: Database, stack: Stack
) -> None:
    connection = await connected(http, service_key, db)

    async with token_endpoint_down(stack):
        response = await admin.post(f"/v1/connections/{connection.id}/refresh")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "provider_unavailable"
    assert int(response.headers["Retry-After"]) >= 1
    after = await reload(db, connection.id)
    assert after.status is ConnectionStatus.ACTIVE and after.consecutive_failures == 1


async def test_a_revoked_connection_is_410(
    admin: httpx.AsyncClient, http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)
    await admin.delete(f"/v1/connections/{connection.id}")

    response = await admin.post(f"/v1/connections/{connection.id}/refresh")

    assert response.status_code == 410
    assert response.json()["error"]["code"] == "connection_revoked"


async def test_refreshing_an_unknown_connection_is_404(admin: httpx.AsyncClient) -> None:
    for connection_id in ("0b1f0000-0000-4000-8000-000000000000", "x"):
        response = await admin.post(f"/v1/connections/{connection_id}/refresh")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "connection_not_found"
