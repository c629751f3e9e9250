"""Rotating the encryption key: every sealed value moves to the active key, nothing fresher is lost."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, text, update
from sqlalchemy.engine import URL

from gateway.cli import cli
from gateway.keys import rotation
from gateway.keys.sealed import sealed_tables
from gateway.kit.clock import utcnow
from gateway.kit.crypto import KeyRing, generate_key_entry
from gateway.kit.db import Database, sync_url
from gateway.models import Connection, ConnectionStatus
from gateway.providers.token_response import TokenSet
from gateway.tokens import grant
from tests.e2e.flows import connect_new_user
from tests.fixtures.database import fresh_database
from tests.fixtures.stack import Stack

OLD = generate_key_entry("old")
NEW = generate_key_entry("new")


@pytest.fixture(scope="module")
def rotation_url(server_url: URL) -> Iterator[URL]:
    with fresh_database(server_url, "gw_keys") as url:
        yield url


@pytest.fixture
async def rdb(rotation_url: URL) -> AsyncIterator[Database]:
    database = Database(rotation_url, pool_size=4)
    async with database.transaction() as session:
        await session.execute(text("TRUNCATE connections CASCADE"))
    yield database
    await database.dispose()


def ring(active: str) -> KeyRing:
    return KeyRing.parse(f"{OLD},{NEW}", active)


async def seed(db: Database, keys: KeyRing, count: int) -> dict[uuid.UUID, tuple[str, str]]:
    """Connections sealed under ``keys``' active key; returns their plaintext tokens by id."""
    plaintext = {}
    async with db.transaction() as session:
        for n in range(count):
            connection = Connection(
                id=uuid.uuid4(),
                user_id=f"user-{n}-{uuid.uuid4().hex[:6]}",
                provider="contio",
                subject=f"sub-{n}",
                status=ConnectionStatus.ACTIVE,
                token_version=1,
                connected_at=utcnow(),
            )
            tokens = TokenSet.from_response(
                {"access_token": f"at-{n}", "refresh_token": f"rt-{n}", "token_type": "Bearer"},
                provider="contio",
            )
            grant.seal_tokens(keys, connection, tokens)
            session.add(connection)
            plaintext[connection.id] = (f"at-{n}", f"rt-{n}")
    return plaintext


async def load_all(db: Database) -> list[Connection]:
    async with db.transaction() as session:
        return list(await session.scalars(select(Connection)))


def test_the_registry_knows_every_sealed_column() -> None:
    columns = {(t.name, c.name) for t in sealed_tables() for c in t.columns}
    assert {
        ("connections", "access_token"),
        ("connections", "refresh_token"),
        ("connect_sessions", "code_verifier"),
    } <= columns


async def test_rotation_reseals_everything_under_the_active_key(rdb: Database) -> None:
    plaintext = await seed(rdb, ring("old"), 5)
    keys = ring("new")

    report = await rotation.rotate(rdb, keys)

    assert report.rotated == 5 and report.remaining == {}
    assert await rotation.usage(rdb) == {"new": 10}
    only_new = KeyRing.parse(NEW)
    for connection in await load_all(rdb):
        assert connection.token_version == 1  # untouched: in-flight refreshes keep their CAS
        assert (
            grant.access_token(only_new, connection),
            grant.refresh_token(only_new, connection),
        ) == plaintext[connection.id]


async def test_a_refresh_that_raced_the_rotation_keeps_its_fresher_tokens(rdb: Database) -> None:
    await seed(rdb, ring("old"), 1)
    [before] = await load_all(rdb)
    keys = ring("new")
    await rotation.rotate(rdb, keys)
    # The refresh read version 1 before the rotation and writes now, compare-and-swap on it.
    fresh = TokenSet.from_response(
        {"access_token": "at-fresh", "refresh_token": "rt-fresh", "token_type": "Bearer"},
        provider="contio",
    )
    async with rdb.transaction() as session:
        current = await session.scalar(
            select(Connection)
            .where(Connection.id == before.id, Connection.token_version == before.token_version)
            .with_for_update()
        )
        assert current is not None, "the rotation must not move token_version"
        grant.seal_tokens(keys, current, fresh)
        current.token_version += 1
    await rotation.rotate(rdb, keys)
    [after] = await load_all(rdb)
    assert grant.refresh_token(keys, after) == "rt-fresh"


async def test_rows_locked_by_a_refresh_are_left_and_taken_by_the_next_run(
    rdb: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rotation, "MAX_PASSES", 2)
    await seed(rdb, ring("old"), 3)
    locked_id = (await load_all(rdb))[0].id
    keys = ring("new")
    async with rdb.engine.connect() as refresh:
        await refresh.execute(
            select(Connection.id).where(Connection.id == locked_id).with_for_update()
        )
        report = await rotation.rotate(rdb, keys)
        assert report.rotated == 2
        assert report.remaining == {"old": 2}
        await refresh.rollback()
    report = await rotation.rotate(rdb, keys)
    assert (report.rotated, report.remaining) == (1, {})


async def test_an_interrupted_rotation_resumes_where_it_stopped(
    rdb: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rotation, "BATCH", 2)
    await seed(rdb, ring("old"), 5)
    keys = ring("new")

    def interrupt(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await rotation.rotate(rdb, keys, interrupt)
    assert await rotation.usage(rdb) == {"new": 4, "old": 6}

    report = await rotation.rotate(rdb, keys)
    assert (report.rotated, await rotation.usage(rdb)) == (3, {"new": 10})


async def test_the_cli_reports_usage_and_rotates(
    rdb: Database, rotation_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(rdb, ring("old"), 2)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", sync_url(rotation_url))
    monkeypatch.setenv("GATEWAY_ENCRYPTION_KEYS", f"{OLD},{NEW}")
    monkeypatch.setenv("GATEWAY_ENCRYPTION_ACTIVE_KEY", "new")
    runner = CliRunner()

    async def gateway(*args: str) -> Result:
        return await asyncio.to_thread(runner.invoke, cli, list(args))

    status = await gateway("keys", "status", "--json")
    assert status.exit_code == 0, status.output
    shown = json.loads(status.output)
    assert (shown["active_key"], shown["values_by_key"]) == ("new", {"old": 4})
    assert (shown["keys_not_in_ring"], shown["unreadable_connections"]) == ([], 0)

    rotated = await gateway("keys", "rotate")
    assert rotated.exit_code == 0, rotated.output
    assert "re-sealed 2 rows under new" in rotated.output
    assert "old keys can be removed" in rotated.output
    after = await gateway("keys", "status")
    assert "new" in after.output and "(active)" in after.output and "old" not in after.output


async def test_values_are_never_printed(
    rdb: Database, rotation_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(rdb, ring("old"), 1)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", sync_url(rotation_url))
    monkeypatch.setenv("GATEWAY_ENCRYPTION_KEYS", f"{OLD},{NEW}")
    monkeypatch.setenv("GATEWAY_ENCRYPTION_ACTIVE_KEY", "new")
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["keys", "rotate"])
    assert "at-0" not in result.output and "rt-0" not in result.output
    assert NEW.split(":")[1] not in result.output


async def test_every_sealed_value_in_the_database_is_in_a_column_the_rotation_knows(
    http: httpx.AsyncClient, service_key: str, stack: Stack, database_url: URL
) -> None:
    """After real flows, any column holding ``v1.<key>.`` envelopes must be marked sealed."""
    await connect_new_user(http, service_key)
    known = {(t.name, c.name) for t in sealed_tables() for c in t.columns}
    shared = Database(database_url, pool_size=1)
    try:
        async with shared.transaction() as session:
            columns = (
                await session.execute(
                    text(
                        "SELECT table_name, column_name FROM information_schema.columns "
                        "WHERE table_schema = 'public' AND data_type IN ('text', 'character varying')"
                    )
                )
            ).all()
            found = set()
            for table, column in columns:
                hit = await session.scalar(
                    text(f'SELECT 1 FROM "{table}" WHERE "{column}" ~ :envelope LIMIT 1'),
                    {"envelope": r"^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{20,}$"},
                )
                if hit:
                    found.add((table, column))
    finally:
        await shared.dispose()
    assert ("connections", "access_token") in found, "no envelope found: the test proves nothing"
    assert found <= known, f"sealed values in columns the rotation would miss: {found - known}"


GONE = generate_key_entry("gone")


async def test_rotation_leaves_values_that_do_not_open_and_names_their_rows(
    rdb: Database, rotation_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    plaintext = await seed(rdb, ring("old"), 3)
    untouched, copied_onto, source = (await load_all(rdb))[:3]
    await seed(rdb, KeyRing.parse(GONE), 1)  # sealed under a key the ring no longer has
    lost = next(c for c in await load_all(rdb) if c.id not in plaintext)
    async with rdb.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == copied_onto.id)
            .values(access_token=source.access_token)
        )
    keys = ring("new")

    report = await rotation.rotate(rdb, keys)

    assert report.unreadable == {"connections": {lost.id, copied_onto.id}}
    assert report.passes_with_leftovers == 0, "a value that does not open is not retried"
    assert report.rotated == 3  # the copied-onto row for its own refresh token
    assert (await rotation.usage(rdb)) == {"new": 5, "old": 1, "gone": 2}
    after = {c.id: c for c in await load_all(rdb)}
    assert grant.access_token(keys, after[untouched.id]) == plaintext[untouched.id][0]
    assert grant.refresh_token(keys, after[copied_onto.id]) == plaintext[copied_onto.id][1]

    monkeypatch.setenv("GATEWAY_DATABASE_URL", sync_url(rotation_url))
    monkeypatch.setenv("GATEWAY_ENCRYPTION_KEYS", f"{OLD},{NEW}")
    monkeypatch.setenv("GATEWAY_ENCRYPTION_ACTIVE_KEY", "new")
    status = await asyncio.to_thread(CliRunner().invoke, cli, ["keys", "status", "--json"])
    shown = json.loads(status.output)
    assert (shown["keys_not_in_ring"], shown["unreadable_connections"]) == (["gone"], 2)
    assert shown["unreadable_rows_by_table"] == {"connections": 2}
    text_status = await asyncio.to_thread(CliRunner().invoke, cli, ["keys", "status"])
    assert "not in the key ring" in text_status.output
    assert "connections whose tokens do not open: 2" in text_status.output
    rotated = await asyncio.to_thread(CliRunner().invoke, cli, ["keys", "rotate"])
    assert rotated.exit_code == 1
    assert "does not open" in rotated.output and "connections: 2" in rotated.output
