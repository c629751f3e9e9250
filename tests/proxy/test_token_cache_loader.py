"""The token cache's misses of one loop turn are read together, against the real database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import make_url

from bench import seed
from gateway.kit.crypto import KeyRing, generate_key_entry
from gateway.kit.db import Database
from gateway.proxy.loader import ConnectionLoader


@contextmanager
def counted_statements(db: Database) -> Iterator[list[str]]:
    """The statements ``db.quick_fetch`` runs meanwhile (each still runs)."""
    seen: list[str] = []
    fetch = db.quick_fetch

    async def counted(query: str, *args: object) -> list[Any]:
        seen.append(query)
        return await fetch(query, *args)

    db.quick_fetch = counted  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        del db.quick_fetch


async def seeded_users(db: Database, count: int, keys: KeyRing | None = None) -> list[str]:
    """``count`` connections whose access tokens are ``a0``, ``a1``, ..."""
    prefix = f"loader-{uuid.uuid4().hex[:8]}-"
    await seed.connections(
        db,
        keys or KeyRing.parse(generate_key_entry("k1")),
        tokens=[(f"a{n}", f"r{n}") for n in range(count)],
        subject="s",
        lifetime_seconds=3600,
        due=False,
        user_prefix=prefix,
    )
    return [f"{prefix}{n}" for n in range(1, count + 1)]


async def test_misses_of_one_turn_share_one_query(db: Database) -> None:
    users = await seeded_users(db, 40)
    loader = ConnectionLoader(db)
    wanted = [*users, users[0], "nobody-at-all"]  # a repeat and an unknown user
    with counted_statements(db) as statements:
        found = await asyncio.gather(
            *(loader.load((user, "contio", None, None)) for user in wanted)
        )
    assert len(statements) == 1
    assert [row.user_id if row else None for row in found] == [*users, users[0], None]
    assert found[0] is found[len(users)]  # the repeat shared the read


async def test_a_caller_that_gives_up_leaves_the_read_to_the_others(db: Database) -> None:
    [user] = await seeded_users(db, 1)
    loader = ConnectionLoader(db)
    quitter = asyncio.create_task(loader.load((user, "contio", None, None)))
    stayer = asyncio.create_task(loader.load((user, "contio", None, None)))
    await asyncio.sleep(0)  # both are waiting on the one read
    quitter.cancel()
    row = await stayer
    assert row is not None and row.user_id == user
    assert quitter.cancelled()


async def test_a_failed_read_fails_its_callers_and_the_next_miss_reads_again() -> None:
    broken = Database(make_url("postgresql+asyncpg://postgres@127.0.0.1:1/none"), pool_size=1)
    loader = ConnectionLoader(broken)
    try:
        results = await asyncio.gather(
            loader.load(("one", "contio", None, None)),
            loader.load(("two", "contio", None, None)),
            return_exceptions=True,
        )
        assert all(isinstance(result, ConnectionRefusedError) for result in results)
        with pytest.raises(ConnectionRefusedError):  # a new read, not a wait on the failed one
            await loader.load(("one", "contio", None, None))
    finally:
        await broken.dispose()
