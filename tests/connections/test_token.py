"""``POST /v1/connections/{id}/token``: a fresh access token obtained and stored now, never shown;
its owner's or an operator's."""

from __future__ import annotations

import httpx

from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.tokens import grant
from tests.connections.managed import connected, path, reloaded
from tests.fixtures.stack import Stack
from tests.hostile.owner_fixtures import Clients, clients, error_code

__all__ = ["clients"]  # fixtures


def refresh_calls(stack: Stack) -> int:
    calls: int = stack.sandbox_store.counters.snapshot()["refresh_calls"]
    return calls


def keys_of(stack: Stack) -> KeyRing:
    assert stack.settings.encryption_keys is not None
    return KeyRing.parse(stack.settings.encryption_keys.get_secret_value())


async def test_the_owner_obtains_a_fresh_token_which_the_answer_never_shows(
    http: httpx.AsyncClient, db: Database, stack: Stack, clients: Clients
) -> None:
    owner = clients.confined
    connection = await connected(http, db, owner)
    keys = keys_of(stack)
    before = grant.access_token(keys, connection)
    calls = refresh_calls(stack)

    answer = await http.post(f"{path(connection)}/token", headers=owner.auth)

    assert answer.status_code == 200, answer.text
    assert refresh_calls(stack) == calls + 1
    after = await reloaded(db, connection)
    fresh = grant.access_token(keys, after)
    assert after.token_version == connection.token_version + 1 and fresh != before
    assert fresh not in answer.text and before not in answer.text
    assert not [k for k in answer.json() if "token" in k and not k.endswith("_expires_at")]
    assert answer.json()["last_refreshed_at"] is not None
    assert answer.headers["ETag"] == f'"{after.revision}"'


async def test_a_non_owner_is_refused_and_an_invisible_connection_is_not_found(
    http: httpx.AsyncClient, db: Database, stack: Stack, clients: Clients
) -> None:
    shared = await connected(http, db, clients.patterned)
    calls = refresh_calls(stack)

    not_owner = await http.post(f"{path(shared)}/token", headers=clients.open_.auth)
    hidden = await http.post(f"{path(shared)}/token", headers=clients.confined.auth)

    assert (not_owner.status_code, error_code(not_owner)) == (403, "not_connection_owner")
    assert (hidden.status_code, error_code(hidden)) == (404, "connection_not_found")
    assert refresh_calls(stack) == calls
    assert (await reloaded(db, shared)).token_version == shared.token_version
    by_operator = await http.post(f"{path(shared)}/token", headers=clients.operator.auth)
    assert by_operator.status_code == 200, by_operator.text
    assert refresh_calls(stack) == calls + 1


async def test_a_revoked_connection_answers_410(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    owner = clients.open_
    connection = await connected(http, db, owner)
    revoked = await http.delete(path(connection), headers=clients.operator.auth)
    assert revoked.status_code == 200, revoked.text

    answer = await http.post(f"{path(connection)}/token", headers=owner.auth)

    assert (answer.status_code, error_code(answer)) == (410, "connection_revoked")
