"""The refresher's claim reads what is due, not the table: a few due among many are found through the
due index and claimed nearest expiry first, whatever the planner's statistics say; a large due set
is claimed nearest expiry first without walking the connections in expiry order. Rows read are PostgreSQL's own counts (``pg_stat_user_indexes`` and
``pg_stat_user_tables``), flushed by the claiming connection itself."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import URL

from gateway.kit.db import Database, sync_url
from gateway.settings import Settings
from gateway.tokens import lease
from gateway.tokens.lease import Leases
from tests.fixtures.database import fresh_database

TOTAL = 2000
FEW = 10
READS = """
SELECT (SELECT idx_tup_read FROM pg_stat_user_indexes WHERE indexrelname = 'ix_connections_expiry'),
       (SELECT coalesce(seq_tup_read, 0) FROM pg_stat_user_tables WHERE relname = 'connections')
"""


@pytest.fixture(scope="module")
def url(server_url: URL) -> Iterator[URL]:
    with fresh_database(server_url, "claim") as found:
        yield found


@pytest.fixture
async def db(url: URL) -> AsyncIterator[Database]:
    # One connection: the claims and the flush of their statistics run on the same backend.
    database = Database(url, pool_size=1)
    try:
        yield database
    finally:
        await database.dispose()


async def seed(db: Database, due: int) -> list[uuid.UUID]:
    """``TOTAL`` active connections, one expiring each second from an hour on, all due when the
    statistics are taken; then all but the ``due`` expiring last are refreshed (due in an hour),
    the statistics left as they were. Returns the due ones' ids, nearest expiry first."""
    async with db.transaction() as session:
        await session.execute(text("TRUNCATE connections CASCADE"))
        await session.execute(
            text(
                "INSERT INTO connections (id, user_id, provider, subject, status, token_version, "
                "connected_at, access_token, refresh_token, expires_at, next_refresh_at) "
                "SELECT gen_random_uuid(), 'user-' || n, 'contio', 'subject-' || n, 'active', 1, "
                "now(), 'sealed', 'sealed', now() + interval '1 hour' + n * interval '1 second', "
                "now() - interval '1 minute' FROM generate_series(1, :total) AS n"
            ),
            {"total": TOTAL},
        )
    connection = await asyncpg.connect(sync_url(db.url))
    try:
        await connection.execute("ANALYZE connections")
    finally:
        await connection.close()
    async with db.transaction() as session:
        await session.execute(
            text(
                "UPDATE connections SET next_refresh_at = now() + interval '1 hour' WHERE id IN "
                "(SELECT id FROM connections ORDER BY expires_at LIMIT :refreshed)"
            ),
            {"refreshed": TOTAL - due},
        )
        found = await session.execute(
            text("SELECT id FROM connections WHERE next_refresh_at <= now() ORDER BY expires_at")
        )
        return [row.id for row in found]


async def rows_read(db: Database) -> tuple[int, int]:
    """Entries read from ``ix_connections_expiry`` and rows read by sequential scans of
    ``connections`` so far, after this process's connection flushed its statistics."""
    async with db.transaction() as session:
        await session.execute(select(func.pg_stat_force_next_flush()))
    async with db.transaction() as session:
        found = (await session.execute(text(READS))).one()
    return int(found[0]), int(found[1])


async def test_a_few_due_among_many_are_claimed_without_walking_the_table(db: Database) -> None:
    due = await seed(db, FEW)
    leases = Leases(db, Settings())
    index_before, scanned_before = await rows_read(db)

    claimed = await leases.claim(16)
    more = await leases.claim(16, {row.id for row in claimed})

    index_after, scanned_after = await rows_read(db)
    assert [row.id for row in claimed] == due  # all of them, nearest expiry first
    assert more == []
    # The statistics say every row is due: walking the expiry index would read ~2,000 entries.
    assert index_after - index_before < 100
    assert scanned_after == scanned_before


async def test_nothing_due_reads_nothing_but_the_due_index(db: Database) -> None:
    await seed(db, 0)
    leases = Leases(db, Settings())
    index_before, scanned_before = await rows_read(db)

    assert await leases.claim(16) == []

    assert await rows_read(db) == (index_before, scanned_before)


@pytest.fixture
async def large_due_set(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[uuid.UUID]:
    """200 due, more than the due set read (50); their ids, nearest expiry first."""
    monkeypatch.setattr(lease, "DUE_SET_READ", 50)
    return await seed(db, 200)


async def test_a_large_due_set_is_claimed_nearest_expiry_first(
    db: Database, large_due_set: list[uuid.UUID]
) -> None:
    due = large_due_set
    leases = Leases(db, Settings())
    index_before, _ = await rows_read(db)

    first = await leases.claim(16)
    second = await leases.claim(16, {row.id for row in first})

    index_after, _ = await rows_read(db)
    assert [row.id for row in first + second] == due[:32]
    assert all(row.lease_owner == leases.owner for row in first + second)
    # The 1,800 not due expire before every due one: a walk in expiry order would read them all.
    assert index_after == index_before


async def make_due_soonest(db: Database) -> uuid.UUID:
    """One more due connection, expiring before every other."""
    async with db.transaction() as session:
        found: uuid.UUID = (
            await session.execute(
                text(
                    "INSERT INTO connections (id, user_id, provider, subject, status, "
                    "token_version, connected_at, access_token, refresh_token, expires_at, "
                    "next_refresh_at) VALUES (gen_random_uuid(), 'user-soonest', 'contio', "
                    "'subject-soonest', 'active', 1, now(), 'sealed', 'sealed', "
                    "now() + interval '1 minute', now() - interval '1 minute') RETURNING id"
                )
            )
        ).scalar_one()
    return found


async def test_a_large_due_sets_nearest_part_serves_the_next_cycles_until_forgotten(
    db: Database, large_due_set: list[uuid.UUID]
) -> None:
    due = large_due_set
    leases = Leases(db, Settings())

    first_cycle = await leases.claim(16)
    soonest = await make_due_soonest(db)
    second_cycle = await leases.claim(16)  # a new cycle: nothing passed
    leases.forget_due()
    third_cycle = await leases.claim(16)

    assert [row.id for row in first_cycle + second_cycle] == due[:32]
    assert [row.id for row in third_cycle] == [soonest, *due[32:47]]
