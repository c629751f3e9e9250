"""``Database.quick_read``: one statement outside a transaction, on a pool of its own with no
ping before; a lost connection is replaced by the read itself, and its statements reach the main
engine's listeners."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kit.db import Database, sync_url

DEADLINE_SECONDS = 10.0


@pytest.fixture
async def quick_db(database_url: URL) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=2)
    yield database
    await database.dispose()


async def backend_pid(session: AsyncSession) -> int:
    return int((await session.execute(select(func.pg_backend_pid()))).scalar_one())


async def two_transaction_times(session: AsyncSession) -> tuple[object, object]:
    first = (await session.execute(text("SELECT transaction_timestamp()"))).scalar_one()
    second = (await session.execute(text("SELECT transaction_timestamp()"))).scalar_one()
    return first, second


async def test_a_quick_read_runs_each_statement_on_its_own(quick_db: Database) -> None:
    # Autocommit: each statement is a transaction of its own (a round trip apart, so their start
    # times differ), where ``read``'s statements share one.
    first, second = await quick_db.quick_read(two_transaction_times)
    assert second != first
    in_read_first, in_read_second = await quick_db.read(two_transaction_times)
    assert in_read_second == in_read_first


async def test_a_lost_connection_is_replaced_by_the_read(quick_db: Database) -> None:
    first = await quick_db.quick_read(backend_pid)
    admin = await asyncpg.connect(sync_url(quick_db.url))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)
        loop = asyncio.get_running_loop()
        give_up = loop.time() + DEADLINE_SECONDS
        while await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", first):
            assert loop.time() < give_up, "the backend did not end"
            await asyncio.sleep(0.05)
    finally:
        await admin.close()
    second = await quick_db.quick_read(backend_pid)
    assert second != first


async def test_quick_statements_reach_the_main_engines_listeners(quick_db: Database) -> None:
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(quick_db.engine.sync_engine, "before_cursor_execute", count)
    try:
        await quick_db.quick_read(backend_pid)
    finally:
        event.remove(quick_db.engine.sync_engine, "before_cursor_execute", count)
    assert len(seen) == 1
    assert "pg_backend_pid" in seen[0]
