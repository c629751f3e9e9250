"""``Database.quick_fetch``: one statement read by the driver outside a transaction, on a pool of
its own with no ping before and no reset after; a lost connection is replaced by the read itself.
``ColumnRows``: its rows' values what the ORM would have loaded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from bench import seed
from gateway.kit.crypto import KeyRing, generate_key_entry
from gateway.kit.db import ColumnRows, Database, sync_url
from gateway.models import Connection

DEADLINE_SECONDS = 10.0
BACKEND_PID = "SELECT pg_backend_pid()"


@pytest.fixture
async def quick_db(database_url: URL) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=2)
    yield database
    await database.dispose()


async def two_transaction_times(session: AsyncSession) -> tuple[object, object]:
    first = (await session.execute(text("SELECT transaction_timestamp()"))).scalar_one()
    second = (await session.execute(text("SELECT transaction_timestamp()"))).scalar_one()
    return first, second


async def test_each_quick_fetch_is_a_transaction_of_its_own(quick_db: Database) -> None:
    # Autocommit: each statement is a transaction of its own (a round trip apart, so their start
    # times differ), where ``read``'s statements share one.
    [[first]] = await quick_db.quick_fetch("SELECT transaction_timestamp()")
    [[second]] = await quick_db.quick_fetch("SELECT transaction_timestamp()")
    assert second != first
    in_read_first, in_read_second = await quick_db.read(two_transaction_times)
    assert in_read_second == in_read_first


async def test_parameters_and_json_arrive_as_python_values(quick_db: Database) -> None:
    [row] = await quick_db.quick_fetch("SELECT $1::text || '!', '{\"a\": [1]}'::jsonb", "hi")
    assert tuple(row) == ("hi!", {"a": [1]})


async def test_a_connection_goes_back_to_the_pool_as_it_is(quick_db: Database) -> None:
    # No reset statement runs between two reads (it would be a round trip each), and the pool
    # gives the same connection again.
    [[first]] = await quick_db.quick_fetch(BACKEND_PID)
    [[second]] = await quick_db.quick_fetch(BACKEND_PID)
    assert second == first
    admin = await asyncpg.connect(sync_url(quick_db.url))
    try:
        last = await admin.fetchval("SELECT query FROM pg_stat_activity WHERE pid = $1", first)
    finally:
        await admin.close()
    assert last == BACKEND_PID


async def test_a_lost_connection_is_replaced_by_the_read(quick_db: Database) -> None:
    [[first]] = await quick_db.quick_fetch(BACKEND_PID)
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
    [[second]] = await quick_db.quick_fetch(BACKEND_PID)
    assert second != first


async def test_column_rows_are_what_the_orm_loads(quick_db: Database) -> None:
    await seed.connections(
        quick_db,
        KeyRing.parse(generate_key_entry("k1")),
        tokens=[("a", "r")],
        subject="s",
        lifetime_seconds=3600,
        due=False,
        user_prefix="model-rows-",
    )
    loaded = (
        await quick_db.read(
            lambda session: session.scalars(
                select(Connection).where(Connection.user_id == "model-rows-1")
            )
        )
    ).one()
    # Every column, whatever its type (a UUID, an enum, JSON, a timestamp), the proxy's or not.
    keys = [prop.key for prop in Connection.__mapper__.column_attrs]
    rows = ColumnRows(Connection, keys, lambda *values: values, quick_db.engine.dialect)
    [row] = await quick_db.quick_fetch(rows.select("user_id = $1"), "model-rows-1")
    made = rows.of(row)
    assert len(made) == len(Connection.__table__.columns)
    for key, value in zip(keys, made, strict=True):
        assert value == getattr(loaded, key), key
        assert type(value) is type(getattr(loaded, key)), key
