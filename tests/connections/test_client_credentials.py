"""Client-credentials connections end to end: created by an operator or an allowed client (and
refused to others), proxied only by id, exchanged again by the refresher before expiry and by the
token operation, ``invalid_client`` opening the breaker, the password grant refused, revocation
erasing the token."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
from sqlalchemy import delete

from gateway.kit.clock import utcnow
from gateway.kit.db import Database
from gateway.models import ConnectionStatus, ProviderBreaker
from gateway.providers.spender import REFRESHER
from gateway.tokens import grant
from tests.connections.cc_fixtures import (
    FAULTY,
    PROVIDER,
    TOKEN_TTL,
    cc_stack,
    create,
    created,
    exchanges,
    gw,
    keys_of,
    provider_http,
    refresher_of,
    row,
)
from tests.fixtures.stack import Stack
from tests.hostile.owner_fixtures import Clients, b_user, clients, error_code

__all__ = ["cc_stack", "clients", "gw", "provider_http"]  # fixtures

AUDIENCE = "https://api.reports.example"
RESOURCE = "https://api.reports.example/v1"


def app_name() -> str:
    return f"app:{uuid.uuid4().hex[:10]}"


async def whoami(gw: httpx.AsyncClient, key: dict[str, str], connection_id: str) -> httpx.Response:
    return await gw.get(f"/proxy/connections/{connection_id}/whoami", headers=key)


async def test_an_operator_creates_one_for_a_client_which_calls_the_app_api_by_id(
    gw: httpx.AsyncClient, db: Database, cc_stack: Stack, clients: Clients
) -> None:
    before = exchanges(cc_stack)

    answer = await create(
        gw,
        clients.operator,
        app_name(),
        owner=clients.open_.name,
        scopes=["reports:read"],
        audience=AUDIENCE,
        resource=RESOURCE,
    )

    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["auth_mode"], body["is_default"], body["owner"]) == (
        "client_credentials",
        False,
        clients.open_.name,
    )
    assert body["requested"] == {
        "scopes": ["reports:read"],
        "audience": AUDIENCE,
        "resources": [RESOURCE],
    }
    assert body["scopes"] == ["reports:read"] and answer.headers["ETag"] == '"1"'
    assert exchanges(cc_stack) == before + 1
    stored = await row(db, body["id"])
    token = grant.access_token(keys_of(cc_stack), stored)
    assert stored.refresh_token is None and token not in answer.text
    proxied = await whoami(gw, clients.open_.auth, body["id"])
    assert proxied.status_code == 200, proxied.text
    assert proxied.json()["scopes"] == ["reports:read"]
    assert (proxied.json()["audience"], proxied.json()["resources"]) == (AUDIENCE, [RESOURCE])


async def test_a_client_creates_one_it_owns_in_its_space_and_others_neither_see_nor_use_it(
    gw: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    confined = clients.confined
    connection_id = await created(gw, confined, app_name())

    shown = await gw.get(f"/v1/connections/{connection_id}", headers=confined.auth)
    assert shown.status_code == 200
    assert (shown.json()["owner"], shown.json()["confined"]) == (confined.name, True)
    assert (await whoami(gw, confined.auth, connection_id)).status_code == 200
    for other in (clients.open_, clients.patterned):
        hidden = await gw.get(f"/v1/connections/{connection_id}", headers=other.auth)
        assert (hidden.status_code, error_code(hidden)) == (404, "connection_not_found")
        proxied = await whoami(gw, other.auth, connection_id)
        assert (proxied.status_code, error_code(proxied)) == (404, "connection_not_found")
    stored = await row(db, connection_id)
    assert stored.owner_client_id == confined.id and stored.confined_to_client_id == confined.id


async def test_clients_are_held_to_their_pattern_and_may_not_name_another_owner(
    gw: httpx.AsyncClient, cc_stack: Stack, clients: Clients
) -> None:
    before = exchanges(cc_stack)
    outside = await create(gw, clients.patterned, app_name())
    other_owner = await create(gw, clients.open_, app_name(), owner=clients.patterned.name)
    inside = await create(gw, clients.patterned, b_user())

    assert (outside.status_code, error_code(outside)) == (403, "user_not_allowed")
    assert (other_owner.status_code, error_code(other_owner)) == (403, "insufficient_scope")
    assert inside.status_code == 201, inside.text
    assert inside.json()["owner"] == clients.patterned.name
    assert exchanges(cc_stack) == before + 1  # the refused ones asked the provider nothing


async def test_it_is_never_a_users_default(gw: httpx.AsyncClient, clients: Clients) -> None:
    user_id = app_name()
    connection_id = await created(gw, clients.open_, user_id)

    by_user = await gw.get(
        f"/proxy/users/{user_id}/whoami",
        headers={**clients.open_.auth, "Gateway-Provider": PROVIDER},
    )
    made_default = await gw.patch(
        f"/v1/connections/{connection_id}",
        json={"is_default": True},
        headers=clients.open_.auth,
    )

    assert by_user.status_code == 404 and by_user.headers.get("Gateway-Error") == "1"
    assert (made_default.status_code, error_code(made_default)) == (409, "default_not_allowed")
    listed = await gw.get(f"/v1/connections?user_id={user_id}", headers=clients.open_.auth)
    assert [item["is_default"] for item in listed.json()["items"]] == [False]


async def test_the_refresher_obtains_a_new_token_before_the_old_one_expires(
    gw: httpx.AsyncClient,
    db: Database,
    cc_stack: Stack,
    clients: Clients,
    provider_http: httpx.AsyncClient,
) -> None:
    connection_id = await created(gw, clients.open_, app_name(), scopes=["reports:read"])
    first = await row(db, connection_id)
    assert first.expires_at is not None and first.next_refresh_at is not None
    assert first.next_refresh_at < first.expires_at
    refresher = refresher_of(db, cc_stack, provider_http)

    # What each refresher cycle does for a connection (``loop.refresh_due`` picks the due ones of
    # the whole database, which other tests' stacks share).
    deadline = time.monotonic() + 3 * TOKEN_TTL
    current = first
    while current.token_version == first.token_version:
        assert time.monotonic() < deadline, "the refresher never replaced the token"
        await refresher.refresh(current.id, spender=REFRESHER, due_only=True)
        current = await row(db, connection_id)
        await asyncio.sleep(0.2)

    assert utcnow() < first.expires_at  # replaced before it expired
    keys = keys_of(cc_stack)
    assert grant.access_token(keys, current) != grant.access_token(keys, first)
    assert current.expires_at is not None and current.expires_at > first.expires_at
    assert current.status is ConnectionStatus.ACTIVE and current.refresh_token is None
    proxied = await whoami(gw, clients.open_.auth, connection_id)
    assert proxied.status_code == 200 and proxied.json()["scopes"] == ["reports:read"]


async def test_the_token_operation_exchanges_again_now_for_its_owner_only(
    gw: httpx.AsyncClient, db: Database, cc_stack: Stack, clients: Clients
) -> None:
    connection_id = await created(gw, clients.open_, b_user())
    before_row = await row(db, connection_id)
    before = exchanges(cc_stack)

    not_owner = await gw.post(
        f"/v1/connections/{connection_id}/token", headers=clients.patterned.auth
    )
    hidden = await gw.post(f"/v1/connections/{connection_id}/token", headers=clients.confined.auth)
    answer = await gw.post(f"/v1/connections/{connection_id}/token", headers=clients.open_.auth)

    assert (not_owner.status_code, error_code(not_owner)) == (403, "not_connection_owner")
    assert (hidden.status_code, error_code(hidden)) == (404, "connection_not_found")
    assert answer.status_code == 200, answer.text
    assert exchanges(cc_stack) == before + 1
    after = await row(db, connection_id)
    keys = keys_of(cc_stack)
    assert after.token_version == before_row.token_version + 1
    fresh = grant.access_token(keys, after)
    assert fresh != grant.access_token(keys, before_row) and fresh not in answer.text


async def test_invalid_client_opens_the_providers_breaker(
    gw: httpx.AsyncClient, db: Database, cc_stack: Stack, clients: Clients
) -> None:
    connection_id = await created(gw, clients.operator, app_name(), provider=FAULTY)
    faults = f"{cc_stack.sandbox.url}/_sandbox/faults"
    try:
        async with httpx.AsyncClient(timeout=10) as sandbox:
            await sandbox.post(faults, json={"invalid_client": True})
            refused = await gw.post(
                f"/v1/connections/{connection_id}/token", headers=clients.operator.auth
            )
            before = exchanges(cc_stack)
            held = await gw.post(
                f"/v1/connections/{connection_id}/token", headers=clients.operator.auth
            )
            await sandbox.delete(faults)
        assert (refused.status_code, error_code(refused)) == (502, "provider_client_rejected")
        assert (held.status_code, error_code(held)) == (503, "provider_unavailable")
        assert exchanges(cc_stack) == before  # the open breaker asked the provider nothing
        async with db.transaction() as session:
            breaker = await session.get(ProviderBreaker, FAULTY)
        assert breaker is not None and breaker.open_until is not None
        assert breaker.open_until > utcnow()
        assert (await row(db, connection_id)).status is ConnectionStatus.ACTIVE
    finally:
        async with db.transaction() as session:
            await session.execute(delete(ProviderBreaker).where(ProviderBreaker.provider == FAULTY))


async def test_the_password_grant_is_refused_with_the_reason_and_nothing_is_stored(
    gw: httpx.AsyncClient, db: Database, cc_stack: Stack, clients: Clients
) -> None:
    user_id = app_name()
    before = exchanges(cc_stack)

    password = await create(gw, clients.operator, user_id, grant_type="password")
    not_offered = await create(gw, clients.operator, user_id, provider="contio")

    assert (password.status_code, error_code(password)) == (400, "grant_not_supported")
    assert "RFC 9700" in password.json()["error"]["message"]
    assert (not_offered.status_code, error_code(not_offered)) == (400, "grant_not_supported")
    assert exchanges(cc_stack) == before
    listed = await gw.get(f"/v1/connections?user_id={user_id}", headers=clients.operator.auth)
    assert listed.json()["items"] == []


async def test_revocation_erases_the_token_here_and_at_the_provider(
    gw: httpx.AsyncClient, db: Database, cc_stack: Stack, clients: Clients
) -> None:
    connection_id = await created(gw, clients.open_, app_name())
    token = grant.access_token(keys_of(cc_stack), await row(db, connection_id))

    revoked = await gw.delete(f"/v1/connections/{connection_id}", headers=clients.operator.auth)

    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["upstream_revocation"] == "done"
    stored = await row(db, connection_id)
    assert stored.status is ConnectionStatus.REVOKED and stored.access_token is None
    async with httpx.AsyncClient(timeout=10) as sandbox:
        upstream = await sandbox.get(
            f"{cc_stack.sandbox.url}/app/v1/whoami", headers={"Authorization": f"Bearer {token}"}
        )
    assert upstream.status_code == 401
    proxied = await whoami(gw, clients.open_.auth, connection_id)
    assert (proxied.status_code, error_code(proxied)) == (410, "connection_revoked")
