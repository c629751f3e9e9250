"""``POST /v1/connections/{id}/verify`` for each kind of connection, over HTTP with service clients
of every sort: a stored credential is checked with the provider's verification request and left as
it was, a client-credentials connection is exchanged again, a user's grant refreshed; a refusal is
422 ``credential_rejected`` with the provider's reason; whoever may not see a connection gets 404;
every attempt is audited with its actor. And the list's ``auth_mode`` filter."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import delete, update

from gateway.kit.db import Database
from gateway.models import Connection, ConnectionStatus, ProviderBreaker
from gateway.tokens import grant
from tests.connections.cc_fixtures import exchanges, keys_of
from tests.connections.kinds_fixtures import (
    FAULTY,
    UNCHECKED,
    audited,
    connect_user,
    create_app_connection,
    fresh_key,
    gw,
    kinds_stack,
    revoke_key,
    row,
    sandbox,
    store_key,
)
from tests.fixtures.stack import Stack
from tests.hostile.owner_fixtures import Client, Clients, account, b_user, clients
from tests.hostile.owner_fixtures import error_code as code_of

__all__ = ["clients", "gw", "kinds_stack", "sandbox"]  # fixtures


async def verify(gw: httpx.AsyncClient, client: Client, connection_id: str) -> httpx.Response:
    return await gw.post(f"/v1/connections/{connection_id}/verify", headers=client.auth)


async def test_a_stored_credential_is_checked_with_the_provider_and_left_as_it_was(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, clients: Clients, db: Database
) -> None:
    key = await fresh_key(sandbox)
    connection_id = await store_key(gw, clients, b_user(), key, owner=clients.open_.name)
    before = await row(db, connection_id)
    calls = (await sandbox.get("/_sandbox/api-keys/calls")).json().get("bearer", 0)

    by_operator = await verify(gw, clients.operator, connection_id)
    by_owner = await verify(gw, clients.open_, connection_id)

    for answer in (by_operator, by_owner):
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "verified": True,
            "connection_id": connection_id,
            "auth_mode": "api_key",
            "method": "verification_request",
        }
        assert key not in answer.text
    assert (await sandbox.get("/_sandbox/api-keys/calls")).json()["bearer"] == calls + 2
    after = await row(db, connection_id)
    assert (after.credential, after.token_version) == (before.credential, before.token_version)
    entries = await audited(db, connection_id, "connection.verified")
    assert [(e.actor, e.details["outcome"]) for e in entries] == [
        (f"client:{clients.operator.name}", "verified"),
        (f"client:{clients.open_.name}", "verified"),
    ]


async def test_a_key_the_provider_no_longer_takes_is_rejected_with_its_reason_and_kept(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, clients: Clients, db: Database
) -> None:
    key = await fresh_key(sandbox)
    connection_id = await store_key(gw, clients, b_user(), key)
    before = await row(db, connection_id)
    await revoke_key(sandbox, key)

    answer = await verify(gw, clients.operator, connection_id)

    assert (answer.status_code, code_of(answer)) == (422, "credential_rejected")
    details = answer.json()["error"]["details"]
    assert details["upstream_status"] == 401 and "invalid_credentials" in details["reason"]
    assert key not in answer.text
    after = await row(db, connection_id)
    assert after.status is ConnectionStatus.ACTIVE
    assert (after.credential, after.token_version) == (before.credential, before.token_version)
    [entry] = await audited(db, connection_id, "connection.verified")
    assert entry.details["outcome"] == "credential_rejected"
    timeline = await gw.get(
        f"/v1/connections/{connection_id}/events?kind=verified", headers=clients.operator.auth
    )
    assert timeline.status_code == 200, timeline.text
    assert [item["kind"] for item in timeline.json()["items"]] == ["verified"]


async def test_only_clients_that_may_use_a_connection_verify_it(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, clients: Clients, db: Database
) -> None:
    shared = await store_key(gw, clients, b_user(), await fresh_key(sandbox))
    confined_own = await create_app_connection(gw, clients.confined, b_user())

    # The confined client sees nothing of the shared space; the others nothing of its space.
    assert code_of(await verify(gw, clients.confined, shared)) == "connection_not_found"
    for other in (clients.open_, clients.patterned):
        answer = await verify(gw, other, confined_own)
        assert (answer.status_code, code_of(answer)) == (404, "connection_not_found")
    # Those that may use a connection verify it: the patterned client admits b- users.
    assert (await verify(gw, clients.patterned, shared)).status_code == 200
    assert (await verify(gw, clients.confined, confined_own)).status_code == 200
    assert len(await audited(db, shared, "connection.verified")) == 1
    assert len(await audited(db, confined_own, "connection.verified")) == 1
    malformed = await verify(gw, clients.operator, "not-an-id")
    assert (malformed.status_code, code_of(malformed)) == (404, "connection_not_found")


async def test_without_a_verification_request_there_is_nothing_to_verify(
    gw: httpx.AsyncClient, clients: Clients
) -> None:
    connection_id = await store_key(gw, clients, b_user(), "any-key", provider=UNCHECKED)
    answer = await verify(gw, clients.operator, connection_id)
    assert (answer.status_code, code_of(answer)) == (409, "nothing_to_verify")


async def test_a_revoked_connection_is_gone(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, clients: Clients, db: Database
) -> None:
    connection_id = await store_key(gw, clients, b_user(), await fresh_key(sandbox))
    revoked = await gw.delete(f"/v1/connections/{connection_id}", headers=clients.operator.auth)
    assert revoked.status_code == 200, revoked.text
    assert (await row(db, connection_id)).credential is None  # erased
    answer = await verify(gw, clients.operator, connection_id)
    assert (answer.status_code, code_of(answer)) == (410, "connection_revoked")


async def test_a_grant_already_refused_asks_nothing_and_says_so(
    gw: httpx.AsyncClient, kinds_stack: Stack, clients: Clients, db: Database
) -> None:
    connection_id = await connect_user(gw, db, clients.open_, b_user())
    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == uuid.UUID(connection_id))
            .values(status=ConnectionStatus.NEEDS_REAUTH)
        )
    calls = kinds_stack.sandbox_store.counters.snapshot()["refresh_calls"]

    answer = await verify(gw, clients.open_, connection_id)

    assert (answer.status_code, code_of(answer)) == (409, "reauth_required")
    assert kinds_stack.sandbox_store.counters.snapshot()["refresh_calls"] == calls
    [entry] = await audited(db, connection_id, "connection.verified")
    assert entry.details["outcome"] == "reauth_required"


async def test_a_client_credentials_connection_is_exchanged_again(
    gw: httpx.AsyncClient, kinds_stack: Stack, clients: Clients, db: Database
) -> None:
    connection_id = await create_app_connection(gw, clients.open_, "app:reports")
    before = await row(db, connection_id)
    count = exchanges(kinds_stack)

    answer = await verify(gw, clients.open_, connection_id)

    assert answer.status_code == 200, answer.text
    assert answer.json()["method"] == "client_credentials_exchange"
    assert exchanges(kinds_stack) == count + 1
    after = await row(db, connection_id)
    assert after.token_version == before.token_version + 1
    assert grant.access_token(keys_of(kinds_stack), after) not in answer.text
    confined = await verify(gw, clients.confined, connection_id)
    assert (confined.status_code, code_of(confined)) == (404, "connection_not_found")


async def test_refused_client_credentials_are_rejected_with_the_providers_reason(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, clients: Clients, db: Database
) -> None:
    connection_id = await create_app_connection(gw, clients.operator, "app:faulty", FAULTY)
    try:
        await sandbox.post("/_sandbox/faults", json={"invalid_client": True})
        answer = await verify(gw, clients.operator, connection_id)
        await sandbox.delete("/_sandbox/faults")
        assert (answer.status_code, code_of(answer)) == (422, "credential_rejected")
        details = answer.json()["error"]["details"]
        assert details["oauth_error"] == "invalid_client" and "invalid_client" in details["reason"]
        assert "sandbox-secret" not in answer.text
        [entry] = await audited(db, connection_id, "connection.verified")
        assert entry.details["outcome"] == "credential_rejected"
    finally:
        await sandbox.delete("/_sandbox/faults")
        async with db.transaction() as session:
            await session.execute(delete(ProviderBreaker).where(ProviderBreaker.provider == FAULTY))


async def test_a_users_grant_is_verified_by_a_refresh(
    gw: httpx.AsyncClient, clients: Clients, db: Database
) -> None:
    connection_id = await connect_user(gw, db, clients.open_, b_user())
    before = await row(db, connection_id)

    answer = await verify(gw, clients.patterned, connection_id)

    assert answer.status_code == 200, answer.text
    assert answer.json()["method"] == "refresh"
    assert (await row(db, connection_id)).token_version == before.token_version + 1
    confined = await verify(gw, clients.confined, connection_id)
    assert (confined.status_code, code_of(confined)) == (404, "connection_not_found")


async def test_a_grant_the_provider_revoked_is_rejected_and_needs_the_user_again(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, clients: Clients, db: Database
) -> None:
    email = account()
    connection_id = await connect_user(gw, db, clients.open_, b_user(), email)
    ended = await sandbox.post("/_sandbox/connections/revoke", json={"email": email})
    assert ended.status_code == 200, ended.text

    answer = await verify(gw, clients.open_, connection_id)

    assert (answer.status_code, code_of(answer)) == (422, "credential_rejected")
    assert "invalid_grant" in answer.json()["error"]["details"]["reason"]
    assert (await row(db, connection_id)).status is ConnectionStatus.NEEDS_REAUTH
    [entry] = await audited(db, connection_id, "connection.verified")
    assert entry.details["outcome"] == "credential_rejected"


async def test_the_list_filters_by_auth_mode(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, clients: Clients, db: Database
) -> None:
    user_id = b_user()
    ids = {
        "oauth_user": await connect_user(gw, db, clients.open_, user_id),
        "api_key": await store_key(gw, clients, user_id, await fresh_key(sandbox), additional=True),
        "client_credentials": await create_app_connection(gw, clients.open_, user_id),
    }
    for mode, connection_id in ids.items():
        for client in (clients.operator, clients.open_):
            listed = await gw.get(
                "/v1/connections",
                params={"user_id": user_id, "auth_mode": mode},
                headers=client.auth,
            )
            assert listed.status_code == 200, listed.text
            assert [item["id"] for item in listed.json()["items"]] == [connection_id], mode
        hidden = await gw.get(
            "/v1/connections",
            params={"user_id": user_id, "auth_mode": mode},
            headers=clients.confined.auth,
        )
        assert hidden.json()["items"] == []
    wrong = await gw.get(
        "/v1/connections", params={"auth_mode": "password"}, headers=clients.operator.auth
    )
    assert (wrong.status_code, code_of(wrong)) == (400, "invalid_auth_mode")
