"""Retention of events and audit entries, the dead-letter list, and replaying it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import delete, select, text, update
from sqlalchemy.engine import URL

from gateway import retention
from gateway.cli import cli
from gateway.clients.store import create_client
from gateway.events.dead_letters import list_dead, replay
from gateway.events.delivery import Deliverer
from gateway.events.outbox import emit
from gateway.kit.clock import utcnow
from gateway.kit.db import Database, sync_url
from gateway.models import (
    AuditEvent,
    Connection,
    ConnectSession,
    DelegatedKey,
    EventDelivery,
    IdempotencyKey,
    OutboxEvent,
    Provisioning,
    SeenWebhook,
)
from gateway.settings import Settings
from tests.audit.conftest import seal
from tests.events.conftest import SECRETS, Receiver

SETTINGS = Settings(
    outbox_retention_days=7, dead_letter_retention_days=30, audit_retention_days=365
)


@pytest.fixture
async def outbox(outbox_db: Database) -> Database:
    async with outbox_db.transaction() as session:
        for model in (OutboxEvent, AuditEvent, ConnectSession, Provisioning, IdempotencyKey):
            await session.execute(delete(model))
        await session.execute(delete(SeenWebhook))
    return outbox_db


async def event(
    db: Database, *, age_days: float, state: str, endpoint: str = "http://x/"
) -> uuid.UUID:
    """An event ``age_days`` old whose one delivery is ``delivered``, ``pending`` or ``dead``."""
    then = utcnow() - timedelta(days=age_days)
    async with db.transaction() as session:
        created = await emit(session, [endpoint], "connection.created", {"n": 1})
        await session.flush()
        await session.execute(
            update(OutboxEvent).where(OutboxEvent.id == created.id).values(occurred_at=then)
        )
        by_state: dict[str, dict[str, object]] = {
            "delivered": {"delivered_at": then},
            "pending": {},
            "dead": {"abandoned_at": then, "attempts": 12, "last_error": "HTTP 500"},
        }
        values = by_state[state]
        if values:
            await session.execute(
                update(EventDelivery).where(EventDelivery.event_id == created.id).values(**values)
            )
    return created.id


async def remaining(db: Database) -> set[uuid.UUID]:
    async with db.transaction() as session:
        return set(await session.scalars(select(OutboxEvent.id)))


async def test_pruning_keeps_what_is_pending_recent_or_replayable(outbox: Database) -> None:
    old_delivered = await event(outbox, age_days=8, state="delivered")
    new_delivered = await event(outbox, age_days=6, state="delivered")
    old_pending = await event(outbox, age_days=8, state="pending")
    young_dead = await event(outbox, age_days=20, state="dead")
    old_dead = await event(outbox, age_days=31, state="dead")

    pruned = await retention.prune(outbox, SETTINGS)

    assert pruned == retention.Pruned(events=1, dead_letters=1, audit_events=0)
    assert await remaining(outbox) == {new_delivered, old_pending, young_dead}
    assert old_delivered not in await remaining(outbox) and old_dead not in await remaining(outbox)


async def test_old_audit_entries_are_pruned_a_whole_sealed_segment_at_a_time(
    outbox: Database,
) -> None:
    for age in (400, 10):
        async with outbox.transaction() as session:
            session.add(
                AuditEvent(
                    actor="test",
                    action="connection.revoked",
                    occurred_at=utcnow() - timedelta(days=age),
                    details={},
                )
            )
        await seal(outbox)
    pruned = await retention.prune(outbox, SETTINGS)
    assert pruned is not None and pruned.audit_events == 1
    async with outbox.transaction() as session:
        assert await session.scalar(select(text("count(*)")).select_from(AuditEvent)) == 1


async def test_only_one_replica_prunes_at_a_time(outbox: Database) -> None:
    await event(outbox, age_days=8, state="delivered")
    async with outbox.engine.connect() as other_replica:
        await other_replica.execute(
            text("SELECT pg_advisory_lock(hashtext(:key))"), {"key": retention.LOCK_KEY}
        )
        assert await retention.prune(outbox, SETTINGS) is None
        await other_replica.execute(
            text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": retention.LOCK_KEY}
        )
    assert await retention.prune(outbox, SETTINGS) == retention.Pruned(events=1)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
        yield client


async def test_a_replayed_dead_letter_is_delivered_with_its_original_id(
    outbox: Database, receiver: Receiver, http: httpx.AsyncClient
) -> None:
    dead = await event(outbox, age_days=1, state="dead", endpoint=f"{receiver.url}/ok")
    async with outbox.transaction() as session:
        [letter] = await list_dead(session)
        assert (letter.event_id, letter.attempts, letter.last_error) == (dead, 12, "HTTP 500")
    deliverer = Deliverer(outbox, http, SECRETS)
    assert await deliverer.deliver_due() == 0  # abandoned: nobody sends it on their own

    async with outbox.transaction() as session:
        assert await replay(session) == 1
    assert await deliverer.deliver_due() == 1

    assert receiver.received == [str(dead)]
    async with outbox.transaction() as session:
        assert await list_dead(session) == []


async def test_the_cli_lists_and_replays_dead_letters(
    outbox: Database, outbox_database_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", sync_url(outbox_database_url))
    first = await event(outbox, age_days=1, state="dead")
    await event(outbox, age_days=2, state="dead")
    runner = CliRunner()

    async def gateway(*args: str, answer: str | None = None) -> Result:
        # The CLI runs its own event loop, so it gets a thread of its own.
        return await asyncio.to_thread(runner.invoke, cli, list(args), input=answer)

    listed = await gateway("events", "dead", "--json")
    assert listed.exit_code == 0, listed.output
    letters = json.loads(listed.output)
    assert letters[0]["event_id"] == str(first)
    one = letters[0]["delivery_id"]

    assert (await gateway("events", "replay")).exit_code == 2
    assert (await gateway("events", "replay", "not-an-id")).exit_code == 2
    replayed = await gateway("events", "replay", one)
    assert (replayed.exit_code, replayed.output.strip()) == (0, "1 delivery queued again")
    assert (await gateway("events", "replay", str(uuid.uuid4()))).exit_code == 1
    assert (await gateway("events", "replay", "--all", answer="n\n")).exit_code == 1
    everything = await gateway("events", "replay", "--all", "--yes")
    assert (everything.exit_code, everything.output.strip()) == (0, "1 delivery queued again")


async def test_finished_flows_are_pruned_a_day_after_they_ended(outbox: Database) -> None:
    now = utcnow()
    long_ago, soon = now - timedelta(days=2), now + timedelta(minutes=5)
    async with outbox.transaction() as session:
        client, _ = await create_client(session, f"svc-{uuid.uuid4().hex[:8]}", ["connect"], [])
        for expires_at in (long_ago, soon):
            session.add(
                ConnectSession(
                    id=uuid.uuid4(),
                    service_client_id=client.id,
                    user_id="u",
                    provider="contio",
                    token_hash=uuid.uuid4().hex,
                    expires_at=expires_at,
                )
            )
            session.add(
                Provisioning(
                    id=uuid.uuid4(),
                    service_client_id=client.id,
                    user_id="u",
                    provider="contio",
                    email="u@example.com",
                    token_hash=uuid.uuid4().hex,
                    code_expires_at=expires_at,
                    created_at=expires_at,
                    updated_at=expires_at,
                )
            )
            session.add(
                IdempotencyKey(
                    id=uuid.uuid4(),
                    service_client_id=client.id,
                    operation="provisioning.create",
                    key=uuid.uuid4().hex,
                    request_hash="0" * 64,
                    expires_at=expires_at,
                )
            )
        session.add(SeenWebhook(event_id=f"evt_{uuid.uuid4().hex}", received_at=long_ago))

    pruned = await retention.prune(outbox, SETTINGS)

    assert pruned is not None and pruned.flows == 4
    async with outbox.transaction() as session:
        for column in (
            ConnectSession.expires_at,
            Provisioning.code_expires_at,
            IdempotencyKey.expires_at,
        ):
            left = list(await session.scalars(select(column)))
            assert [moment > now for moment in left] == [True], column


async def test_delegated_keys_are_pruned_a_day_after_they_expired_or_were_revoked(
    outbox: Database,
) -> None:
    now = utcnow()
    long_ago, soon = now - timedelta(days=2), now + timedelta(minutes=5)
    async with outbox.transaction() as session:
        connection = Connection(
            id=uuid.uuid4(),
            user_id="u",
            provider="contio",
            subject="s",
            connected_at=now,
            token_version=1,
        )
        session.add(connection)
        await session.flush()
        for expires_at, revoked_at in ((long_ago, None), (soon, long_ago), (soon, None)):
            session.add(
                DelegatedKey(
                    connection_id=connection.id,
                    key_prefix="gw_test",
                    key_hash=uuid.uuid4().hex,
                    allow_rules=[],
                    issued_by="test",
                    expires_at=expires_at,
                    revoked_at=revoked_at,
                )
            )

    pruned = await retention.prune(outbox, SETTINGS)

    assert pruned is not None and pruned.flows == 2
    async with outbox.transaction() as session:
        left = list(await session.scalars(select(DelegatedKey)))
    assert [(key.expires_at > now, key.revoked_at) for key in left] == [(True, None)]
