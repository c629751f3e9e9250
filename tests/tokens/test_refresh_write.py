"""The write of the tokens a refresh obtained outlives what happens to it meanwhile: the provider has
already rotated the refresh token, so a write given up loses the grant (the next refresh presents
the spent token, the provider detects its reuse, and the user must connect again).

Each test holds the refresh's write back at its INSERT of the timeline record (a lock on the table
taken by another connection, so the provider has answered by then), does something to it there,
then lets it go; the next refresh, with the rotated refresh token, must succeed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
import sqlalchemy.exc
from sqlalchemy import event, update
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from gateway.kit.db import Database, sync_url, unavailable
from gateway.models import Connection, TimelineRecord
from gateway.providers.spender import OPERATOR
from gateway.settings import Settings
from gateway.tokens.loop import refresh_due
from gateway.tokens.refresher import Refresher
from tests.e2e.flows import load_connection as load
from tests.fixtures.stack import Stack
from tests.tokens.test_refresh import connected, make_refresher, provider_http

__all__ = ["provider_http"]  # a fixture, used by name

WAIT_SECONDS = 30.0
# The token endpoint's slowness in the cancelled-cycle test: ample time to cancel a cycle
# waiting for a call.
SLOW_TOKEN_MS = 1500
# How long the database keeps failing the write in the outage test: past a third of the lease
# (as long as the write used to be tried), well within the lease itself.
OUTAGE_LEASE_SECONDS = 12
OUTAGE_SECONDS = 6.0

BLOCKED_WRITES = """
    SELECT pid FROM pg_stat_activity
    WHERE datname = current_database() AND $1 = ANY(pg_blocking_pids(pid))
      AND query ILIKE 'INSERT INTO timeline_records%'
"""
# A batch's group: one statement, its timeline records inserted by a CTE (its text is longer than
# what pg_stat_activity keeps).
BLOCKED_GROUP_WRITES = BLOCKED_WRITES.replace("'INSERT INTO timeline_records%'", "'WITH won AS%'")


@asynccontextmanager
async def timeline_held(database_url: URL) -> AsyncIterator[asyncpg.Connection]:
    """Inserts into ``timeline_records`` wait until the block ends."""
    holder = await asyncpg.connect(sync_url(database_url))
    try:
        async with holder.transaction():
            await holder.execute("LOCK TABLE timeline_records IN SHARE MODE")
            yield holder
    finally:
        await holder.close()


async def blocked_writes(
    admin: asyncpg.Connection, holder: asyncpg.Connection, query: str = BLOCKED_WRITES
) -> list[int]:
    rows = await admin.fetch(query, holder.get_server_pid())
    return [row["pid"] for row in rows]


async def until_blocked(
    database_url: URL, holder: asyncpg.Connection, query: str = BLOCKED_WRITES
) -> None:
    """Until a write waits for ``holder`` (the refresh has its tokens and is writing them)."""
    admin = await asyncpg.connect(sync_url(database_url))
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while not await blocked_writes(admin, holder, query):
            assert time.monotonic() < deadline, "the refresh never got to writing its tokens"
            await asyncio.sleep(0.01)
    finally:
        await admin.close()


async def assert_kept(db: Database, refresher: Refresher, connection: Connection) -> None:
    """The refresh's tokens were stored (one version on), and its rotated refresh token works."""
    stored = await load(db, connection.user_id)
    assert stored.token_version == connection.token_version + 1
    again = await refresher.refresh(connection.id, spender=OPERATOR)
    assert again.refreshed and again.connection.token_version == connection.token_version + 2


@dataclass(frozen=True)
class Parts:
    """What each test here works with: the gateway's API and database, and the sandbox."""

    http: httpx.AsyncClient
    service_key: str
    db: Database
    stack: Stack
    provider_http: httpx.AsyncClient
    database_url: URL

    async def connection(self) -> Connection:
        """A new connection, made through the API."""
        return await connected(self.http, self.service_key, self.db)

    def refresher(self, settings: Settings | None = None, db: Database | None = None) -> Refresher:
        """A refresher on ``db`` (the test's own by default) with ``settings`` (the stack's)."""
        return make_refresher(db or self.db, settings or self.stack.settings, self.provider_http)


@pytest.fixture
def parts(
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    stack: Stack,
    provider_http: httpx.AsyncClient,
    database_url: URL,
) -> Parts:
    return Parts(http, service_key, db, stack, provider_http, database_url)


async def test_a_caller_cancelled_while_the_tokens_are_written_does_not_lose_them(
    parts: Parts,
) -> None:
    connection = await parts.connection()
    refresher = parts.refresher()
    async with timeline_held(parts.database_url) as holder:
        caller = asyncio.create_task(refresher.refresh(connection.id, spender=OPERATOR))
        await until_blocked(parts.database_url, holder)
        caller.cancel()  # a client gone, a deadline
        with pytest.raises(asyncio.CancelledError):
            await caller
    await refresher.release_all()  # as on shutdown: once the refreshes under way are done
    await assert_kept(parts.db, refresher, connection)


async def test_the_tokens_are_written_through_an_outage_as_long_as_the_lease_holds(
    parts: Parts,
) -> None:
    connection = await parts.connection()
    lease = {"refresh_lease_seconds": OUTAGE_LEASE_SECONDS}
    refresher = parts.refresher(parts.stack.settings.model_copy(update=lease))
    terminated: list[int] = []
    async with timeline_held(parts.database_url) as holder:
        refreshing = asyncio.create_task(refresher.refresh(connection.id, spender=OPERATOR))
        await until_blocked(parts.database_url, holder)
        # Every attempt at the write loses its connection, for longer than a third of the lease.
        admin = await asyncpg.connect(sync_url(parts.database_url))
        try:
            ends = time.monotonic() + OUTAGE_SECONDS
            while time.monotonic() < ends:
                for pid in await blocked_writes(admin, holder):
                    if await admin.fetchval("SELECT pg_terminate_backend($1)", pid):
                        terminated.append(pid)
                await asyncio.sleep(0.01)
        finally:
            await admin.close()
        # The caller was answered the outage at its first lost attempt (a 503 for it to retry).
        with pytest.raises(sqlalchemy.exc.DBAPIError) as raised:
            await refreshing
        assert unavailable(raised.value)
    await refresher.release_all()  # as on shutdown: once the refreshes under way are done
    assert len(terminated) > 1, terminated
    await assert_kept(parts.db, refresher, connection)


class AnswerLostOnce(Session):
    """A session whose first COMMIT is applied, then reported as lost with its connection, as when
    the connection drops between the server's commit and its answer."""

    lost = 0


@event.listens_for(AnswerLostOnce, "before_flush")
def _note_the_write(session: Session, *_: object) -> None:
    if any(isinstance(row, TimelineRecord) for row in session.new):
        session.info["writes_tokens"] = True


@event.listens_for(AnswerLostOnce, "after_commit")
def _lose_the_answer(session: Session) -> None:
    if session.info.pop("writes_tokens", False) and AnswerLostOnce.lost == 0:
        AnswerLostOnce.lost += 1
        raise ConnectionResetError(104, "Connection reset by peer")


async def test_a_commit_whose_answer_was_lost_is_read_back_as_ours(
    parts: Parts, caplog: pytest.LogCaptureFixture
) -> None:
    AnswerLostOnce.lost = 0
    connection = await parts.connection()
    own = Database(parts.database_url, pool_size=2)
    try:
        own.sessions.configure(sync_session_class=AnswerLostOnce)
        refresher = parts.refresher(db=own)
        with caplog.at_level(logging.INFO, logger="gateway.tokens.outcomes"):
            # The caller is answered the outage (a 503), and the write goes on.
            with pytest.raises(ConnectionResetError):
                await refresher.refresh(connection.id, spender=OPERATOR)
            await refresher.release_all()  # once the refreshes under way are done
        assert AnswerLostOnce.lost == 1
        messages = [record.getMessage() for record in caplog.records]
        assert any("whose answer was lost had landed" in message for message in messages)
        assert not any("lost its compare-and-swap" in message for message in messages)
        await assert_kept(parts.db, refresher, connection)
    finally:
        await own.dispose()


async def sandbox_stats(http: httpx.AsyncClient, stack: Stack) -> dict[str, int]:
    answer = await http.get(f"{stack.sandbox.url}/_sandbox/stats")
    answer.raise_for_status()
    counters: dict[str, int] = answer.json()
    return counters


async def test_a_cycle_cancelled_while_its_tokens_are_written_does_not_lose_them(
    parts: Parts,
) -> None:
    first, second, third = [await parts.connection() for _ in range(3)]
    http, stack, db = parts.http, parts.stack, parts.db
    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id.in_([first.id, second.id, third.id]))
            .values(next_refresh_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    # One call at a time, each taking the provider SLOW_TOKEN_MS: when the first connection's
    # tokens are being written, the cycle waits in its body for the next call (where a
    # cancellation used to cancel every call and write).
    refresher = parts.refresher(stack.settings.model_copy(update={"refresher_concurrency": 1}))
    before = await sandbox_stats(http, stack)
    await http.post(f"{stack.sandbox.url}/_sandbox/faults", json={"latency_ms": SLOW_TOKEN_MS})
    try:
        async with timeline_held(parts.database_url) as holder:
            cycle = asyncio.create_task(refresh_due(refresher, 10))
            await until_blocked(parts.database_url, holder, BLOCKED_GROUP_WRITES)
            cycle.cancel()  # shutdown, while the provider has sent tokens not yet written
        with pytest.raises(asyncio.CancelledError):
            await cycle  # once the calls sent and their writes are done
    finally:
        await http.delete(f"{stack.sandbox.url}/_sandbox/faults")
    by_user = {row.user_id: row for row in (first, second, third)}
    stored = {user: await load(db, user) for user in by_user}
    moved = [stored[user].token_version - by_user[user].token_version for user in by_user]
    issued = (await sandbox_stats(http, stack))["refresh_calls"] - before["refresh_calls"]
    # Every refresh the provider answered was written (the first, its write held back, at least;
    # the second if its call had been sent); none put off was sent.
    assert moved.count(1) == issued >= 1 and set(moved) <= {0, 1}
    await refresher.release_all()  # as on shutdown (a claim cut short may have taken a lease)
    for row in (first, second, third):
        again = await refresher.refresh(row.id, spender=OPERATOR)
        assert again.refreshed
    assert (await sandbox_stats(http, stack))["reuse_detections"] == before["reuse_detections"]
