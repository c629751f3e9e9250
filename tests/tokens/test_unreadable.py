"""The refresher and tokens that do not open: marked once, with one event, never retried each cycle,
and taken up again when the missing key is back in the ring."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from gateway.kit.clock import utcnow
from gateway.kit.crypto import Binding, KeyRing, generate_key_entry
from gateway.kit.db import Database
from gateway.models import AuditEvent, Connection, ConnectionStatus, OutboxEvent
from gateway.providers.registry import build_registry
from gateway.providers.spender import REFRESHER, Spender
from gateway.settings import Settings
from gateway.tokens import unreadable
from gateway.tokens.lease import Fresh
from gateway.tokens.loop import refresh_due
from gateway.tokens.refresher import Refresher
from tests.e2e.flows import connect_new_user
from tests.e2e.flows import load_connection as load
from tests.fixtures.stack import Stack

GONE = generate_key_entry("gone")
CYCLES = 4


class CountingRefresher(Refresher):
    """The real refresher, counting which connections it attempts: those each cycle's batch
    claims, and those refreshed on demand."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.attempts: list[uuid.UUID] = []
        claim = self._leases.claim

        async def counted(limit: int, passed: Collection[uuid.UUID] = ()) -> list[Connection]:
            claimed = await claim(limit, passed)
            self.attempts += [row.id for row in claimed]
            return claimed

        self._leases.claim = counted  # type: ignore[method-assign]

    async def refresh(
        self,
        connection_id: uuid.UUID,
        *,
        spender: Spender,
        seen_version: int | None = None,
        due_only: bool = False,
        rejected: bool = False,
    ) -> Fresh:
        self.attempts.append(connection_id)
        return await super().refresh(
            connection_id,
            spender=spender,
            seen_version=seen_version,
            due_only=due_only,
            rejected=rejected,
        )


@pytest.fixture
async def provider_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def stack_ring(settings: Settings) -> KeyRing:
    assert settings.encryption_keys is not None
    return KeyRing.parse(settings.encryption_keys.get_secret_value())


def refresher(
    db: Database, keys: KeyRing, settings: Settings, http: httpx.AsyncClient
) -> CountingRefresher:
    return CountingRefresher(db, keys, build_registry(settings, http), settings)


async def make_due(db: Database, connection_id: uuid.UUID) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == connection_id)
            .values(next_refresh_at=utcnow() - timedelta(seconds=1))
        )


async def seal_under(db: Database, old: KeyRing, new: KeyRing, connection: Connection) -> None:
    values = {}
    for column in ("access_token", "refresh_token"):
        binding = Binding("connections", column, str(connection.id))
        values[column] = new.seal(old.open(getattr(connection, column), binding), binding)
    async with db.transaction() as session:
        await session.execute(
            update(Connection).where(Connection.id == connection.id).values(**values)
        )


async def history(db: Database, connection_id: uuid.UUID) -> tuple[list[str], list[str]]:
    async with db.transaction() as session:
        events = await session.scalars(
            select(OutboxEvent.type)
            .where(OutboxEvent.data["connection_id"].astext == str(connection_id))
            .order_by(OutboxEvent.occurred_at)
        )
        audit = await session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.connection_id == connection_id)
            .order_by(AuditEvent.occurred_at)
        )
        return list(events), list(audit)


async def test_a_copied_refresh_token_is_marked_once_and_never_retried_each_cycle(
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    stack: Stack,
    provider_http: httpx.AsyncClient,
) -> None:
    donor = await load(db, await connect_new_user(http, service_key))
    victim = await load(db, await connect_new_user(http, service_key))
    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == victim.id)
            .values(refresh_token=donor.refresh_token)
        )
    await make_due(db, victim.id)
    counting = refresher(db, stack_ring(stack.settings), stack.settings, provider_http)

    for _ in range(CYCLES):
        await refresh_due(counting, batch_size=500)

    assert counting.attempts.count(victim.id) == 1
    marked = await load(db, victim.user_id)
    assert marked.status is ConnectionStatus.CREDENTIALS_UNREADABLE
    assert marked.next_refresh_at is None and marked.lease_owner is None
    assert marked.last_refresh_error is not None
    assert (marked.last_refresh_error["code"], marked.last_refresh_error["key_id"]) == (
        "credentials_unreadable",
        "test1",
    )
    events, audit = await history(db, victim.id)
    assert events.count("connection.credentials_unreadable") == 1
    assert audit.count("connection.credentials_unreadable") == 1
    # The donor's refresh token was never sent for the victim: the donor still refreshes.
    assert (await load(db, donor.user_id)).status is ConnectionStatus.ACTIVE
    await make_due(db, donor.id)
    fresh = await counting.refresh(donor.id, spender=REFRESHER, due_only=True)
    assert fresh.refreshed


async def test_a_key_put_back_reopens_the_connection_and_it_refreshes(
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    stack: Stack,
    provider_http: httpx.AsyncClient,
) -> None:
    ring = stack_ring(stack.settings)
    connection = await load(db, await connect_new_user(http, service_key))
    await seal_under(db, ring, KeyRing.parse(GONE), connection)
    await make_due(db, connection.id)
    without = refresher(db, ring, stack.settings, provider_http)
    for _ in range(CYCLES):
        await refresh_due(without, batch_size=500)
    assert without.attempts.count(connection.id) == 1
    marked = await load(db, connection.user_id)
    assert marked.status is ConnectionStatus.CREDENTIALS_UNREADABLE
    assert marked.last_refresh_error is not None and marked.last_refresh_error["key_id"] == "gone"
    # Another start without the key changes nothing.
    assert connection.id not in await reopened(db, ring)

    restored = KeyRing.parse(f"{stack.settings.encryption_keys.get_secret_value()},{GONE}")  # type: ignore[union-attr]
    assert connection.id in await reopened(db, restored)
    back = await load(db, connection.user_id)
    assert back.status is ConnectionStatus.ACTIVE and back.last_refresh_error is None
    with_key = refresher(db, restored, stack.settings, provider_http)
    await refresh_due(with_key, batch_size=500)
    assert with_key.attempts.count(connection.id) == 1
    refreshed = await load(db, connection.user_id)
    assert refreshed.token_version > back.token_version
    assert refreshed.access_token is not None and refreshed.access_token.startswith("v1.test1.")
    events, _ = await history(db, connection.id)
    assert events[-1] == "connection.recovered"


async def reopened(db: Database, keys: KeyRing) -> set[uuid.UUID]:
    async with db.transaction() as session:
        before = set(
            await session.scalars(
                select(Connection.id).where(
                    Connection.status == ConnectionStatus.CREDENTIALS_UNREADABLE
                )
            )
        )
    await unreadable.reopen(db, keys, ())
    async with db.transaction() as session:
        after = set(
            await session.scalars(
                select(Connection.id).where(
                    Connection.status == ConnectionStatus.CREDENTIALS_UNREADABLE
                )
            )
        )
    return before - after
