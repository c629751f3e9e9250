"""A trail of its own for each test that tampers with it: a database cloned from a migrated
template, and the ``gateway`` command run against it as from a shell."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select, update
from sqlalchemy.engine import URL

from gateway.audit import chain, store, stream
from gateway.cli import cli
from gateway.kit.db import Database
from gateway.models import AuditEvent, AuditSegment
from tests.fixtures.database import _admin, fresh_database
from tests.fixtures.stack import Stack, cli_environment


@pytest.fixture(scope="session")
def trail_template(server_url: URL) -> Iterator[str]:
    with fresh_database(server_url, "gw_audit_tpl") as url:
        assert url.database is not None
        yield url.database


@pytest.fixture
async def trail_url(server_url: URL, trail_template: str) -> AsyncIterator[URL]:
    name = f"gw_audit_{uuid.uuid4().hex[:12]}"
    await _admin(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{trail_template}"')
    yield server_url.set(database=name)
    await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def trail(trail_url: URL) -> AsyncIterator[Database]:
    database = Database(trail_url, pool_size=3)
    yield database
    await database.dispose()


@pytest.fixture
def trail_env(stack: Stack, trail_url: URL, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``gateway`` command's settings, on the trail's database."""
    for key, value in cli_environment(stack.settings, trail_url).items():
        monkeypatch.setenv(key, value)


async def gateway(args: Sequence[str]) -> Result:
    """Run the command in a thread of its own: it runs its own event loop, as from a shell."""
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


async def write(
    db: Database,
    count: int,
    *,
    actor: str = "client:writer",
    action: str = "connection.updated",
    connection_id: uuid.UUID | None = None,
    at: datetime | None = None,
) -> list[uuid.UUID]:
    """``count`` committed entries in one transaction (dated ``at`` when given); their ids."""
    async with db.transaction() as session:
        events = [
            store.record(
                session,
                actor=actor,
                action=action,
                connection_id=connection_id,
                details={"n": n, "note": "plain"},
            )
            for n in range(count)
        ]
        await session.flush()
        if at is not None:
            ids = [event.id for event in events]
            await session.execute(
                update(AuditEvent).where(AuditEvent.id.in_(ids)).values(occurred_at=at)
            )
    return [event.id for event in events]


async def settled(db: Database) -> None:
    """Once every entry's transaction is older than every one running (any database's on the
    server: a test elsewhere may hold one open a moment), so a seal or stream round takes all."""
    deadline = time.monotonic() + 30
    while True:
        async with db.transaction() as session:
            newest = await session.scalar(select(func.max(AuditEvent.txid)))
            below = await chain.watermark(session)
        if newest is None or below > newest or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.02)


async def seal(db: Database) -> AuditSegment:
    """Every committed entry sealed into one new segment."""
    await settled(db)
    segment = await stream.seal(db)
    assert segment is not None
    return segment
