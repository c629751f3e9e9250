"""``DELETE /v1/connections/{id}``: revoked here at once, at the provider now or in the background."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import URL

from gateway.app import create_app
from gateway.kit.clock import utcnow
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import ConnectionStatus, PendingRevocation
from gateway.providers.registry import build_registry
from gateway.providers.spender import OPERATOR
from gateway.tokens.errors import ConnectionRevoked
from gateway.tokens.refresher import Refresher
from tests.admin.conftest import (
    admin_settings,
    audit_actions,
    connected,
    event_types,
    offline_settings,
    reload,
    tokens_of,
    upstream_revoker,
)
from tests.e2e.flows import connect, proxy_get
from tests.fixtures.servers import serving
from tests.fixtures.stack import Stack


async def pending_rows(db: Database, connection_id: object) -> list[PendingRevocation]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(PendingRevocation).where(PendingRevocation.connection_id == connection_id)
        )
        return list(rows)


async def test_revoking_ends_the_tokens_at_the_provider_and_the_proxy_answers_410(
    http: httpx.AsyncClient,
    service_key: str,
    admin: httpx.AsyncClient,
    db: Database,
    keys: KeyRing,
    stack: Stack,
) -> None:
    connection = await connected(http, service_key, db)
    access, refresh = tokens_of(keys, connection)
    assert (await proxy_get(http, service_key, connection.user_id, "/meetings")).status_code == 200

    response = await admin.delete(f"/v1/connections/{connection.id}")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["status"], body["upstream_revocation"]) == (
        str(connection.id),
        "revoked",
        "done",
    )
    sandbox = stack.sandbox_store
    assert sandbox.find_live(access) is None and sandbox.find_live(refresh) is None
    proxied = await proxy_get(http, service_key, connection.user_id, "/meetings")
    assert proxied.status_code == 410
    assert proxied.json()["error"]["code"] == "connection_revoked"


async def test_revoking_erases_the_ciphertexts_and_bumps_the_token_version(
    http: httpx.AsyncClient, service_key: str, admin: httpx.AsyncClient, db: Database
) -> None:
    connection = await connected(http, service_key, db)

    answer = await admin.delete(f"/v1/connections/{connection.id}")

    # No token is left, so none is shown as expiring in the future.
    assert answer.json()["access_token_expires_at"] is None
    assert answer.json()["refresh_token_expires_at"] is None
    after = await reload(db, connection.id)
    assert (after.access_token, after.refresh_token) == (None, None)
    assert (after.expires_at, after.refresh_token_expires_at) == (None, None)
    assert after.token_version == connection.token_version + 1
    assert after.status is ConnectionStatus.REVOKED and after.next_refresh_at is None
    assert await pending_rows(db, connection.id) == []


async def test_revoking_writes_an_audit_event_and_a_revoked_event(
    http: httpx.AsyncClient, service_key: str, admin: httpx.AsyncClient, db: Database
) -> None:
    connection = await connected(http, service_key, db)

    await admin.delete(f"/v1/connections/{connection.id}")

    actions = await audit_actions(db, connection.id)
    revoked = [actor for action, actor in actions if action == "connection.revoked"]
    assert len(revoked) == 1 and revoked[0].startswith("client:svc-")
    assert ("connection.upstream_revoked", "gateway:revoker") in actions
    assert (await event_types(db, connection.id)).count("connection.revoked") == 1


async def test_revoking_twice_answers_the_same_and_calls_no_provider(
    http: httpx.AsyncClient,
    service_key: str,
    admin: httpx.AsyncClient,
    db: Database,
    stack: Stack,
) -> None:
    connection = await connected(http, service_key, db)
    first = await admin.delete(f"/v1/connections/{connection.id}")
    calls = stack.sandbox_store.stats()["revocations"]

    second = await admin.delete(f"/v1/connections/{connection.id}")

    assert second.status_code == 200
    # The same connection; this time nothing was done at the provider.
    again, once = second.json(), first.json()
    assert (again.pop("revocation")["upstream"], once.pop("revocation")["upstream"]) == (
        "none",
        "account_wide",
    )
    assert again == once
    assert stack.sandbox_store.stats()["revocations"] == calls
    assert (await event_types(db, connection.id)).count("connection.revoked") == 1
    actions = [action for action, _ in await audit_actions(db, connection.id)]
    assert actions.count("connection.revoked") == 1


async def test_contio_admin_api_also_ends_grants_the_gateway_holds_no_tokens_for(
    http: httpx.AsyncClient,
    service_key: str,
    admin: httpx.AsyncClient,
    db: Database,
    keys: KeyRing,
    stack: Stack,
) -> None:
    connection = await connected(http, service_key, db)
    _old_access, old_refresh = tokens_of(keys, connection)
    # Connecting again makes a second grant at Contio; the first one's tokens are no longer ours.
    reconnected = await connect(
        http, service_key, connection.user_id, login_hint=f"{connection.user_id}@example.com"
    )
    assert reconnected.status_code == 200
    assert stack.sandbox_store.find_live(old_refresh) is not None

    response = await admin.delete(f"/v1/connections/{connection.id}")

    assert response.json()["upstream_revocation"] == "done"
    assert stack.sandbox_store.find_live(old_refresh) is None
    user = stack.sandbox_store.user_by_email(f"{connection.user_id}@example.com")
    contio_id = stack.sandbox_store.connection_id(user)
    assert (await reload(db, connection.id)).provider_connection_id == str(contio_id)
    assert stack.sandbox_store.connection(contio_id).status == "revoked"


async def test_unreachable_provider_revokes_locally_and_keeps_the_tokens_for_a_retry(
    http: httpx.AsyncClient,
    service_key: str,
    offline_admin: httpx.AsyncClient,
    db: Database,
    keys: KeyRing,
    stack: Stack,
) -> None:
    connection = await connected(http, service_key, db)
    access, refresh = tokens_of(keys, connection)

    response = await offline_admin.delete(f"/v1/connections/{connection.id}")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["upstream_revocation"]) == (
        "revoked",
        "pending",
    )
    after = await reload(db, connection.id)
    assert (after.access_token, after.refresh_token) == (None, None)
    [row] = await pending_rows(db, connection.id)
    assert row.attempts == 1 and row.last_error is not None
    assert row.refresh_token is not None and refresh not in row.refresh_token
    assert row.access_token is not None and access not in row.access_token
    assert stack.sandbox_store.find_live(refresh) is not None  # not revoked upstream yet
    assert response.json()["upstream_revocation_error"]["code"] == "provider_unavailable"
    again = await offline_admin.delete(f"/v1/connections/{connection.id}")
    assert again.json()["upstream_revocation"] == "pending"
    proxied = await proxy_get(http, service_key, connection.user_id, "/meetings")
    assert proxied.status_code == 410


async def test_a_provider_not_configured_here_is_named_as_the_cause(
    http: httpx.AsyncClient,
    service_key: str,
    admin_key: str,
    db: Database,
    stack: Stack,
    database_url: URL,
) -> None:
    connection = await connected(http, service_key, db)
    unconfigured = offline_settings(stack, contio_client_id=None, contio_client_secret=None)

    with serving(create_app(unconfigured, database_url)) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as admin:
            response = await admin.delete(
                f"/v1/connections/{connection.id}",
                headers={"Authorization": f"Bearer {admin_key}"},
            )

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["upstream_revocation"]) == ("revoked", "pending")
    error = body["upstream_revocation_error"]
    assert error["code"] == "provider_not_configured"
    assert "not configured" in error["message"] and "could not be reached" not in error["message"]
    [row] = await pending_rows(db, connection.id)
    assert row.last_error is not None and row.last_error.startswith("provider_not_configured")


async def test_the_background_retry_finishes_a_pending_revocation(
    http: httpx.AsyncClient,
    service_key: str,
    offline_admin: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    db: Database,
    keys: KeyRing,
    stack: Stack,
    provider_http: httpx.AsyncClient,
) -> None:
    connection = await connected(http, service_key, db)
    access, refresh = tokens_of(keys, connection)
    await offline_admin.delete(f"/v1/connections/{connection.id}")
    revoker = upstream_revoker(db, keys, admin_settings(stack), provider_http)

    await revoker.retry_due(now=utcnow() + timedelta(days=1))

    assert await pending_rows(db, connection.id) == []
    sandbox = stack.sandbox_store
    assert sandbox.find_live(access) is None and sandbox.find_live(refresh) is None
    assert ("connection.upstream_revoked", "gateway:revoker") in await audit_actions(
        db, connection.id
    )
    done = await admin.delete(f"/v1/connections/{connection.id}")
    assert done.json()["upstream_revocation"] == "done"


async def test_a_failed_retry_is_scheduled_again_with_backoff(
    http: httpx.AsyncClient,
    service_key: str,
    offline_admin: httpx.AsyncClient,
    db: Database,
    keys: KeyRing,
    stack: Stack,
    provider_http: httpx.AsyncClient,
) -> None:
    connection = await connected(http, service_key, db)
    await offline_admin.delete(f"/v1/connections/{connection.id}")
    revoker = upstream_revoker(db, keys, offline_settings(stack), provider_http)

    await revoker.retry_due(now=utcnow() + timedelta(days=1))

    [row] = await pending_rows(db, connection.id)
    assert row.attempts == 2
    assert utcnow() < row.next_attempt_at < utcnow() + timedelta(minutes=16)
    assert row.last_error is not None and "provider_unavailable" in row.last_error


async def test_retries_give_up_after_the_configured_attempts(
    http: httpx.AsyncClient,
    service_key: str,
    offline_admin: httpx.AsyncClient,
    db: Database,
    keys: KeyRing,
    stack: Stack,
    provider_http: httpx.AsyncClient,
) -> None:
    connection = await connected(http, service_key, db)
    await offline_admin.delete(f"/v1/connections/{connection.id}")
    settings = offline_settings(stack, revocation_max_attempts=2)
    revoker = upstream_revoker(db, keys, settings, provider_http)

    await revoker.retry_due(now=utcnow() + timedelta(days=1))

    assert await pending_rows(db, connection.id) == []
    assert ("connection.upstream_revocation_abandoned", "gateway:revoker") in await audit_actions(
        db, connection.id
    )


async def test_a_row_another_replica_is_claiming_is_skipped(
    http: httpx.AsyncClient,
    service_key: str,
    offline_admin: httpx.AsyncClient,
    db: Database,
    keys: KeyRing,
    stack: Stack,
    provider_http: httpx.AsyncClient,
) -> None:
    connection = await connected(http, service_key, db)
    await offline_admin.delete(f"/v1/connections/{connection.id}")
    revoker = upstream_revoker(db, keys, admin_settings(stack), provider_http)
    later = utcnow() + timedelta(days=1)

    async with db.transaction() as other_replica:
        await other_replica.scalar(
            select(PendingRevocation)
            .where(PendingRevocation.connection_id == connection.id)
            .with_for_update()
        )
        await revoker.retry_due(now=later)
        [row] = await pending_rows(db, connection.id)
        assert row.attempts == 1  # skipped, not waited for

    await revoker.retry_due(now=later)
    assert await pending_rows(db, connection.id) == []


async def test_a_claimed_row_is_not_due_for_anyone_else_until_the_claim_lapses(
    http: httpx.AsyncClient,
    service_key: str,
    offline_admin: httpx.AsyncClient,
    db: Database,
) -> None:
    before = utcnow()
    connection = await connected(http, service_key, db)

    await offline_admin.delete(f"/v1/connections/{connection.id}")

    [row] = await pending_rows(db, connection.id)
    # The revoking request claimed it for its own attempt, then scheduled the retry: never "now".
    assert row.next_attempt_at > before


async def test_connecting_again_after_revocation_reactivates_the_same_connection(
    http: httpx.AsyncClient,
    service_key: str,
    admin: httpx.AsyncClient,
    db: Database,
) -> None:
    connection = await connected(http, service_key, db)
    await admin.delete(f"/v1/connections/{connection.id}")

    response = await connect(
        http, service_key, connection.user_id, login_hint=f"{connection.user_id}@example.com"
    )

    assert response.status_code == 200
    after = await reload(db, connection.id)
    assert after.status is ConnectionStatus.ACTIVE and after.access_token is not None
    proxied = await proxy_get(http, service_key, connection.user_id, "/meetings")
    assert proxied.status_code == 200


async def test_a_later_retry_never_revokes_the_grant_of_a_reconnect(
    http: httpx.AsyncClient,
    service_key: str,
    offline_admin: httpx.AsyncClient,
    db: Database,
    keys: KeyRing,
    stack: Stack,
    provider_http: httpx.AsyncClient,
) -> None:
    connection = await connected(http, service_key, db)
    _access, old_refresh = tokens_of(keys, connection)
    await offline_admin.delete(f"/v1/connections/{connection.id}")
    await connect(
        http, service_key, connection.user_id, login_hint=f"{connection.user_id}@example.com"
    )
    _new_access, new_refresh = tokens_of(keys, await reload(db, connection.id))
    revoker = upstream_revoker(db, keys, admin_settings(stack), provider_http)

    await revoker.retry_due(now=utcnow() + timedelta(days=1))

    assert await pending_rows(db, connection.id) == []
    assert stack.sandbox_store.find_live(old_refresh) is None
    assert stack.sandbox_store.find_live(new_refresh) is not None
    proxied = await proxy_get(http, service_key, connection.user_id, "/meetings")
    assert proxied.status_code == 200


async def test_revoking_an_unknown_or_malformed_id_is_404(admin: httpx.AsyncClient) -> None:
    for connection_id in ("5f0c7d4e-1111-4222-8333-944445555666", "not-a-uuid"):
        response = await admin.delete(f"/v1/connections/{connection_id}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "connection_not_found"


async def test_revoking_needs_the_admin_scope(
    admin: httpx.AsyncClient, service_key: str, http: httpx.AsyncClient, db: Database
) -> None:
    connection = await connected(http, service_key, db)

    response = await admin.delete(
        f"/v1/connections/{connection.id}", headers={"Authorization": f"Bearer {service_key}"}
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"
    assert (await reload(db, connection.id)).status is ConnectionStatus.ACTIVE


async def test_a_refresh_in_flight_cannot_write_tokens_back_onto_a_revoked_connection(
    http: httpx.AsyncClient,
    service_key: str,
    admin: httpx.AsyncClient,
    db: Database,
    keys: KeyRing,
    stack: Stack,
) -> None:
    connection = await connected(http, service_key, db)
    revoked_at_version: list[int] = []

    async def revoke_once_the_provider_has_answered(response: httpx.Response) -> None:
        # The provider has rotated the tokens; the refresher has not stored them yet.
        if response.request.url.path == "/oauth2/token" and not revoked_at_version:
            assert (await admin.delete(f"/v1/connections/{connection.id}")).status_code == 200
            revoked_at_version.append((await reload(db, connection.id)).token_version)

    hooks = {"response": [revoke_once_the_provider_has_answered]}
    async with httpx.AsyncClient(timeout=10, event_hooks=hooks) as provider_http:
        registry = build_registry(stack.settings, provider_http)
        refresher = Refresher(db, keys, registry, stack.settings)
        with pytest.raises(ConnectionRevoked):
            await refresher.refresh(connection.id, spender=OPERATOR)

    assert revoked_at_version, "the revocation did not happen mid-refresh"
    after = await reload(db, connection.id)
    assert after.status is ConnectionStatus.REVOKED
    assert (after.access_token, after.refresh_token) == (None, None)
    assert after.token_version == revoked_at_version[0]
    proxied = await proxy_get(http, service_key, connection.user_id, "/meetings")
    assert proxied.status_code == 410
    # The tokens the provider gave the refresh are queued for upstream revocation, not dropped.
    async with db.transaction() as session:
        queued = await session.scalar(
            select(func.count())
            .select_from(PendingRevocation)
            .where(PendingRevocation.connection_id == connection.id)
        )
    assert queued == 1
