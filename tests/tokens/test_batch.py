"""The refresher's batches, against the sandbox on a database of their own: what a batch writes and
how many statements it takes, replicas sharing the due set, on-demand refreshes meeting a batch."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.engine import URL

from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import Connection, RecordKind, TimelineRecord
from gateway.providers.registry import build_registry
from gateway.providers.spender import OPERATOR
from gateway.tokens.lease import Fresh
from gateway.tokens.loop import refresh_due
from gateway.tokens.refresher import Refresher
from tests.e2e.flows import connect_new_user, load_connection
from tests.fixtures.database import fresh_database
from tests.fixtures.stack import Stack, new_client, running_stack

CONNECTIONS = 12
# The goal for a batch: at most this many statements per refreshed connection, all told.
STATEMENTS_PER_REFRESH = 2


@pytest.fixture(scope="module")
def own_stack(server_url: URL) -> Iterator[tuple[Stack, URL]]:
    """A sandbox and a gateway on a database no other test's connections are due in."""
    with fresh_database(server_url, "batch") as url, running_stack(url) as stack:
        yield stack, url


@pytest.fixture
async def own_db(own_stack: tuple[Stack, URL]) -> AsyncIterator[Database]:
    db = Database(own_stack[1], pool_size=4)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def provider_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
async def due(own_stack: tuple[Stack, URL], own_db: Database) -> list[Connection]:
    """``CONNECTIONS`` freshly connected users' connections, all due now."""
    stack, _ = own_stack
    key = await new_client(own_db, ["connect", "proxy"], ["GET /**"])
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=10) as http:
        users = [await connect_new_user(http, key) for _ in range(CONNECTIONS)]
    rows = [await load_connection(own_db, user) for user in users]
    async with own_db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id.in_([row.id for row in rows]))
            .values(next_refresh_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    return rows


def refresher_for(db: Database, stack: Stack, http: httpx.AsyncClient) -> Refresher:
    settings = stack.settings
    assert settings.encryption_keys is not None
    keys = KeyRing.parse(settings.encryption_keys.get_secret_value())
    return Refresher(db, keys, build_registry(settings, http), settings)


async def sandbox_stats(stack: Stack) -> dict[str, int]:
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(f"{stack.sandbox.url}/_sandbox/stats")
    answer.raise_for_status()
    counters: dict[str, int] = answer.json()
    return counters


async def versions(db: Database, rows: list[Connection]) -> dict[uuid.UUID, int]:
    async with db.transaction() as session:
        found = await session.execute(
            select(Connection.id, Connection.token_version).where(
                Connection.id.in_([row.id for row in rows])
            )
        )
        return {cid: version for cid, version in found}


def advanced_once(before: list[Connection], after: dict[uuid.UUID, int]) -> list[uuid.UUID]:
    """The connections whose version did not move by exactly one."""
    return [row.id for row in before if after[row.id] != row.token_version + 1]


async def test_a_batch_refreshes_every_due_connection_in_at_most_two_statements_each(
    own_stack: tuple[Stack, URL],
    own_db: Database,
    due: list[Connection],
    provider_http: httpx.AsyncClient,
) -> None:
    stack, _ = own_stack
    refresher = refresher_for(own_db, stack, provider_http)
    statements: list[str] = []

    def counted(*args: Any) -> None:
        statements.append(args[2])

    engine = own_db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", counted)
    try:
        claimed = await refresh_due(refresher, batch_size=CONNECTIONS)
    finally:
        event.remove(engine, "before_cursor_execute", counted)

    assert claimed == CONNECTIONS
    assert not advanced_once(due, await versions(own_db, due))
    assert len(statements) <= STATEMENTS_PER_REFRESH * CONNECTIONS, statements
    async with own_db.transaction() as session:
        leased = await session.scalar(
            select(func.count())
            .select_from(Connection)
            .where(Connection.id.in_([row.id for row in due]), Connection.lease_owner.is_not(None))
        )
        records = await session.scalar(
            select(func.count())
            .select_from(TimelineRecord)
            .where(
                TimelineRecord.connection_id.in_([row.id for row in due]),
                TimelineRecord.kind == RecordKind.REFRESHED,
            )
        )
    assert (leased, records) == (0, CONNECTIONS)
    for row in due:
        stored = await load_connection(own_db, row.user_id)
        assert stored.next_refresh_at is not None and stored.next_refresh_at > datetime.now(UTC)
        assert stored.access_token != row.access_token
        assert stored.refresh_token != row.refresh_token


async def test_two_replicas_share_the_due_connections_and_refresh_each_once(
    own_stack: tuple[Stack, URL],
    own_db: Database,
    due: list[Connection],
    provider_http: httpx.AsyncClient,
) -> None:
    stack, _ = own_stack
    before = await sandbox_stats(stack)
    first = refresher_for(own_db, stack, provider_http)
    second = refresher_for(own_db, stack, provider_http)
    assert first.owner != second.owner

    claimed = await asyncio.gather(
        refresh_due(first, batch_size=CONNECTIONS), refresh_due(second, batch_size=CONNECTIONS)
    )

    assert sum(claimed) == CONNECTIONS
    assert not advanced_once(due, await versions(own_db, due))
    after = await sandbox_stats(stack)
    assert after["refresh_calls"] - before["refresh_calls"] == CONNECTIONS
    assert after["refresh_replays"] == before["refresh_replays"]
    assert after["reuse_detections"] == before["reuse_detections"]


@pytest.mark.parametrize("first", ["batch", "on_demand"])
async def test_an_on_demand_refresh_meeting_a_batch_shares_one_refresh(
    own_stack: tuple[Stack, URL],
    own_db: Database,
    due: list[Connection],
    provider_http: httpx.AsyncClient,
    first: str,
) -> None:
    stack, _ = own_stack
    before = await sandbox_stats(stack)
    refresher = refresher_for(own_db, stack, provider_http)
    wanted = due[0]
    claimed = asyncio.Event()
    claim = refresher._leases.claim

    async def observed(limit: int) -> list[Connection]:
        rows = await claim(limit)
        claimed.set()
        return rows

    refresher._leases.claim = observed  # type: ignore[method-assign]

    def on_demand() -> asyncio.Task[Fresh]:
        return asyncio.create_task(
            refresher.refresh(wanted.id, spender=OPERATOR, seen_version=wanted.token_version)
        )

    if first == "batch":
        batch = asyncio.create_task(refresh_due(refresher, batch_size=CONNECTIONS))
        await claimed.wait()  # the batch holds the lease: the on-demand refresh waits for it
        fresh = on_demand()
    else:
        fresh = on_demand()  # registered before the batch claims: the batch leaves it alone
        batch = asyncio.create_task(refresh_due(refresher, batch_size=CONNECTIONS))
    await batch

    assert (await fresh).connection.token_version == wanted.token_version + 1
    assert not advanced_once(due, await versions(own_db, due))
    after = await sandbox_stats(stack)
    assert after["refresh_calls"] - before["refresh_calls"] == CONNECTIONS
    assert after["refresh_replays"] == before["refresh_replays"]
    assert after["reuse_detections"] == before["reuse_detections"]
