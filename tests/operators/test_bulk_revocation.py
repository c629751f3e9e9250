"""Revoking a whole provider's connections by one request: 2,000 of them, owned by a confined and
an unconfined service client, on a gateway and a database of their own (so the provider's
connections are this test's alone). The request revokes them here in batches, a bounded number of
statements and one transaction per batch, and calls the provider not once; the proxy refuses
their users at once; the background retry then revokes every grant at the provider."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import Select, func, select
from sqlalchemy.engine import URL

from gateway.connections.bulk_revocation import BATCH_SIZE
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import AuditEvent, Connection, ConnectionStatus, OutboxEvent
from tests.e2e.flows import proxy_get
from tests.fixtures.database import fresh_database
from tests.fixtures.stack import Stack, running_stack
from tests.hostile.owner_fixtures import Client, error_code, make_client
from tests.operators.bulk_fixtures import (
    StatementCount,
    drain,
    pending_count,
    refused,
    seed,
    upstream_revoker,
)

COUNT = 2000
# What one batch may run, whatever its size: the lock, the accounts, one write per table.
STATEMENTS_PER_BATCH = 20
# Around the batches: authentication, the count, the act's audit entry.
STATEMENTS_AROUND = 30
# What asking for the number reads: the caller's authentication and the count, whatever the number.
ROWS_READ_TO_COUNT = 10


@pytest.fixture(scope="module")
def own_url(server_url: URL) -> Iterator[URL]:
    with fresh_database(server_url, "gw_bulk") as url:
        yield url


@pytest.fixture(scope="module")
def own_stack(own_url: URL) -> Iterator[Stack]:
    with running_stack(own_url) as running:
        yield running


@pytest.fixture(scope="module")
async def own_db(own_url: URL) -> AsyncIterator[Database]:
    database = Database(own_url, pool_size=2)
    yield database
    await database.dispose()


@pytest.fixture
async def gateway(own_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=own_stack.gateway.url, timeout=120) as client:
        yield client


def key_ring(stack: Stack) -> KeyRing:
    assert stack.settings.encryption_keys is not None
    return KeyRing.parse(stack.settings.encryption_keys.get_secret_value())


async def statuses(db: Database, ids: list[uuid.UUID]) -> dict[ConnectionStatus, int]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(Connection.status, func.count())
            .where(Connection.id.in_(ids))
            .group_by(Connection.status)
        )
        return {status: count for status, count in rows}


async def count_of(db: Database, statement: Select[int]) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(statement) or 0)


async def test_a_whole_provider_is_revoked_by_one_request_and_at_the_provider_afterwards(
    own_stack: Stack, own_db: Database, gateway: httpx.AsyncClient
) -> None:
    service = ["connect", "proxy"]
    confined = await make_client(own_db, service, own_users_only=True)
    shared = await make_client(own_db, service)
    operator = await make_client(own_db, ["operator"])
    keys = key_ring(own_stack)
    owners: list[tuple[Client, bool]] = [(confined, True), (shared, False)]
    seeded = await seed(own_db, keys, own_stack.sandbox.url, COUNT, owners, {})
    ids = [one.id for one in seeded]
    first_of = {owner.id: next(one for one in seeded if one.owner == owner) for owner, _ in owners}
    for one in first_of.values():
        proxied = await proxy_get(gateway, one.owner.key, one.user_id, "/meetings")
        assert proxied.status_code == 200, proxied.text

    with StatementCount().counting() as preview:
        asked = await gateway.post(
            "/v1/connections/revocations", json={"provider": "contio"}, headers=operator.auth
        )
    assert asked.status_code == 428 and asked.json()["error"]["details"] == {"affected": COUNT}
    assert preview.rows_read <= ROWS_READ_TO_COUNT  # counted by the database, not read
    store = own_stack.sandbox_store
    calls = store.stats()["revocations"]
    with StatementCount().counting() as counted:
        done = await gateway.post(
            "/v1/connections/revocations",
            json={"provider": "contio", "confirm": COUNT},
            headers=operator.auth,
        )

    assert done.status_code == 200, done.text
    body = done.json()
    assert {name: body[name] for name in body if name != "items"} == {
        "revoked": COUNT,
        "skipped": 0,
        "provider_revocations": "queued",
        "provider_revocations_queued": COUNT,
    }
    assert {item["upstream_revocation"] for item in body["items"]} == {"pending"}
    assert [item["connection_id"] for item in body["items"]] == [str(one) for one in ids]
    assert store.stats()["revocations"] == calls  # the provider was not called
    batches = math.ceil(COUNT / BATCH_SIZE)
    assert counted.statements <= batches * STATEMENTS_PER_BATCH + STATEMENTS_AROUND
    assert counted.transactions <= batches + 6
    assert await statuses(own_db, ids) == {ConnectionStatus.REVOKED: COUNT}
    for one in first_of.values():
        answer = await refused(gateway, one)
        assert answer.status_code == 410 and error_code(answer) == "connection_revoked"
    revoked_entries = await count_of(
        own_db,
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.action == "connection.revoked",
            AuditEvent.actor == f"client:{operator.name}",
            AuditEvent.connection_id.in_(ids),
        ),
    )
    assert revoked_entries == COUNT
    events = await count_of(
        own_db,
        select(func.count())
        .select_from(OutboxEvent)
        .where(OutboxEvent.type == "connection.revoked", OutboxEvent.connection_id.in_(ids)),
    )
    assert events == COUNT
    assert await pending_count(own_db, ids) == COUNT

    async with httpx.AsyncClient(timeout=10) as provider_http:
        revoker = upstream_revoker(own_db, keys, own_stack.settings, provider_http)

        async def all_revoked() -> bool:
            return await pending_count(own_db, ids) == 0

        assert await drain(revoker, all_revoked)
    assert store.stats()["revocations"] == calls + 2 * COUNT  # each grant's two tokens
    for one in seeded:
        assert store.find_live(one.refresh_token) is None
        assert store.find_live(one.access_token) is None
    again = await gateway.post(
        "/v1/connections/revocations", json={"provider": "contio"}, headers=operator.auth
    )
    assert again.json()["error"]["details"] == {"affected": 0}
