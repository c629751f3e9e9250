"""The refresher's batches, against the sandbox on a database of their own: what a batch writes and
how many statements it takes, replicas sharing the due set, on-demand refreshes meeting a batch."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Collection, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, event, func, select, update
from sqlalchemy.engine import URL

from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import (
    Connection,
    ProviderBreaker,
    RecordKind,
    TimelineRecord,
    TokenBudgetWindow,
)
from gateway.providers.registry import build_registry
from gateway.providers.spender import OPERATOR
from gateway.tokens.budget import TokenBudget
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
        records = await session.scalar(
            select(func.count())
            .select_from(TimelineRecord)
            .where(
                TimelineRecord.connection_id.in_([row.id for row in due]),
                TimelineRecord.kind == RecordKind.REFRESHED,
            )
        )
    assert (await leased(own_db, due), records) == (0, CONNECTIONS)
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

    async def observed(limit: int, passed: Collection[uuid.UUID] = ()) -> list[Connection]:
        rows = await claim(limit, passed)
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


async def test_a_batch_refreshes_the_nearest_expiries_its_budget_pays_for_and_defers_the_rest(
    own_stack: tuple[Stack, URL],
    own_db: Database,
    due: list[Connection],
    provider_http: httpx.AsyncClient,
) -> None:
    stack, _ = own_stack
    soonest = datetime.now(UTC) + timedelta(minutes=1)
    async with own_db.transaction() as session:
        await session.execute(delete(TokenBudgetWindow))
        for minutes, row in enumerate(reversed(due)):  # the last connected expires first
            await session.execute(
                update(Connection)
                .where(Connection.id == row.id)
                .values(expires_at=soonest + timedelta(minutes=minutes))
            )
    keys = KeyRing.parse(stack.settings.encryption_keys.get_secret_value())  # type: ignore[union-attr]
    # The refresher may spend 0.9 of 4 a window: 3.
    budget = TokenBudget(own_db, stack.settings, {"GATEWAY_CONTIO_TOKEN_RATE": "4/300s"})
    refresher = Refresher(
        own_db, keys, build_registry(stack.settings, provider_http), stack.settings, budget
    )
    before = await sandbox_stats(stack)

    assert await refresh_due(refresher, batch_size=CONNECTIONS) == CONNECTIONS

    after = await versions(own_db, due)
    refreshed = [row.id for row in due if after[row.id] == row.token_version + 1]
    assert refreshed == [row.id for row in due[-3:]]
    assert (await sandbox_stats(stack))["refresh_calls"] - before["refresh_calls"] == 3
    assert await leased(own_db, due) == 0  # the deferred ones are free for the next cycle
    async with own_db.transaction() as session:
        await session.execute(delete(TokenBudgetWindow))


async def test_an_open_breaker_defers_the_whole_batch_without_a_call(
    own_stack: tuple[Stack, URL],
    own_db: Database,
    due: list[Connection],
    provider_http: httpx.AsyncClient,
) -> None:
    stack, _ = own_stack
    now = datetime.now(UTC)
    async with own_db.transaction() as session:
        session.add(
            ProviderBreaker(
                provider="contio",
                open_until=now + timedelta(minutes=5),
                consecutive_failures=1,
                last_error="invalid_client",
                updated_at=now,
            )
        )
    before = await sandbox_stats(stack)
    try:
        assert await refresh_due(refresher_for(own_db, stack, provider_http), CONNECTIONS) == (
            CONNECTIONS
        )
    finally:
        async with own_db.transaction() as session:
            await session.execute(delete(ProviderBreaker))

    assert await versions(own_db, due) == {row.id: row.token_version for row in due}
    assert (await sandbox_stats(stack))["refresh_calls"] == before["refresh_calls"]
    assert await leased(own_db, due) == 0


async def leased(db: Database, rows: list[Connection]) -> int:
    async with db.transaction() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Connection)
            .where(Connection.id.in_([row.id for row in rows]), Connection.lease_owner.is_not(None))
        )
    return int(count or 0)
