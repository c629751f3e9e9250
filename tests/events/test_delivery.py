"""The Deliverer against a real receiver on loopback, with an injected clock instead of sleeping."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import delete, select

from gateway.events.delivery import CLAIM_SECONDS, Deliverer
from gateway.events.outbox import emit
from gateway.kit.clock import utcnow
from gateway.kit.db import Database
from gateway.models import EventDelivery, OutboxEvent
from tests.events.conftest import SECRETS, Receiver
from tests.fixtures.servers import free_port


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def outbox(outbox_db: Database) -> Database:
    async with outbox_db.transaction() as session:
        await session.execute(delete(OutboxEvent))
    return outbox_db


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
        yield client


async def emit_events(db: Database, endpoint: str, count: int = 1) -> list[uuid.UUID]:
    async with db.transaction() as session:
        events = [
            await emit(session, [endpoint], "connection.created", {"n": n}) for n in range(count)
        ]
    return [event.id for event in events]


async def delivery(db: Database, event_id: uuid.UUID) -> EventDelivery:
    async with db.transaction() as session:
        found = await session.scalar(
            select(EventDelivery).where(EventDelivery.event_id == event_id)
        )
    assert found is not None
    return found


def no_jitter() -> float:
    return 0.0


async def test_a_due_event_is_delivered_signed_with_its_event_id(
    outbox: Database, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    [event_id] = await emit_events(outbox, f"{receiver.url}/ok")
    attempted = await Deliverer(outbox, http, SECRETS).deliver_due()
    assert attempted == 1
    assert receiver.received == [str(event_id)] and receiver.rejected == 0
    row = await delivery(outbox, event_id)
    assert row.delivered_at is not None and row.attempts == 0 and row.last_error is None


async def test_a_delivered_event_is_not_sent_again(
    outbox: Database, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    await emit_events(outbox, f"{receiver.url}/ok")
    clock = Clock()
    deliverer = Deliverer(outbox, http, SECRETS, clock=clock)
    assert await deliverer.deliver_due() == 1
    clock.advance(86_400)
    assert await deliverer.deliver_due() == 0
    assert len(receiver.received) == 1


async def test_a_failure_counts_the_attempt_and_backs_off(
    outbox: Database, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    [event_id] = await emit_events(outbox, f"{receiver.url}/fail")
    clock = Clock()
    deliverer = Deliverer(outbox, http, SECRETS, clock=clock, jitter=no_jitter)
    assert await deliverer.deliver_due() == 1
    row = await delivery(outbox, event_id)
    assert (row.attempts, row.last_error) == (1, "HTTP 500")
    assert row.next_attempt_at == clock.now + timedelta(seconds=5)
    assert await deliverer.deliver_due() == 0  # not due yet

    clock.advance(5)
    assert await deliverer.deliver_due() == 1
    row = await delivery(outbox, event_id)
    assert row.attempts == 2
    assert row.next_attempt_at == clock.now + timedelta(seconds=10)
    assert row.delivered_at is None and row.abandoned_at is None


async def test_backoff_has_jitter_and_a_cap(
    outbox: Database, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    [event_id] = await emit_events(outbox, f"{receiver.url}/fail")
    clock = Clock()
    deliverer = Deliverer(outbox, http, SECRETS, clock=clock, max_attempts=50, jitter=lambda: 1.0)
    for _ in range(14):
        await deliverer.deliver_due()
        clock.advance(3600)
    row = await delivery(outbox, event_id)
    assert row.attempts == 14
    # The last failure was recorded an hour ago: the cap (1 h) minus the largest jitter (20 %).
    assert row.next_attempt_at == clock.now - timedelta(seconds=3600) + timedelta(seconds=2880)


async def test_an_unreachable_endpoint_records_the_error_class(
    outbox: Database, http: httpx.AsyncClient
) -> None:
    [event_id] = await emit_events(outbox, f"http://127.0.0.1:{free_port()}/hook")
    assert await Deliverer(outbox, http, SECRETS).deliver_due() == 1
    row = await delivery(outbox, event_id)
    assert (row.attempts, row.last_error) == (1, "ConnectError")


async def test_a_delivery_is_abandoned_after_the_last_attempt(
    outbox: Database, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    [event_id] = await emit_events(outbox, f"{receiver.url}/fail")
    clock = Clock()
    deliverer = Deliverer(outbox, http, SECRETS, clock=clock)
    for _ in range(12):
        assert await deliverer.deliver_due() == 1
        clock.advance(3600)
    row = await delivery(outbox, event_id)
    assert row.attempts == 12 and row.abandoned_at is not None and row.delivered_at is None
    clock.advance(86_400)
    assert await deliverer.deliver_due() == 0


async def test_racing_deliverers_send_every_event_exactly_once(
    outbox: Database, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    event_ids = await emit_events(outbox, f"{receiver.url}/ok", count=30)
    other_db = Database(outbox.url, pool_size=2)
    try:
        first, second = Deliverer(outbox, http, SECRETS), Deliverer(other_db, http, SECRETS)
        racing = await asyncio.gather(first.deliver_due(limit=20), second.deliver_due(limit=20))
        leftovers = await asyncio.gather(first.deliver_due(), second.deliver_due())
    finally:
        await other_db.dispose()
    assert min(racing) > 0  # both passes really ran side by side
    assert sum(racing) + sum(leftovers) == 30
    assert Counter(receiver.received) == Counter(str(event_id) for event_id in event_ids)


async def test_a_claimed_delivery_is_not_taken_by_another_worker_until_the_claim_ends(
    outbox: Database, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    [event_id] = await emit_events(outbox, f"{receiver.url}/ok")
    clock = Clock()
    deliverer = Deliverer(outbox, http, SECRETS, clock=clock)
    claims = await deliverer._claim(10)  # a worker that dies after claiming
    assert [claim.event_id for claim in claims] == [event_id]
    assert await deliverer.deliver_due() == 0
    clock.advance(CLAIM_SECONDS)
    assert await deliverer.deliver_due() == 1
    assert receiver.received == [str(event_id)]


async def test_without_signing_secrets_nothing_is_sent(
    outbox: Database,
    http: httpx.AsyncClient,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    [event_id] = await emit_events(outbox, f"{receiver.url}/ok")
    with caplog.at_level(logging.ERROR, logger="gateway.events.delivery"):
        assert await Deliverer(outbox, http, ()).deliver_due() == 0
    assert receiver.received == []
    row = await delivery(outbox, event_id)
    assert row.attempts == 0 and row.delivered_at is None
    assert "GATEWAY_EVENT_SIGNING_SECRETS" in caplog.text


def test_a_malformed_signing_secret_stops_the_deliverer(outbox_db: Database) -> None:
    with pytest.raises(ValueError, match="whsec_"):
        Deliverer(outbox_db, httpx.AsyncClient(), ["not-a-secret"])


async def test_run_delivers_until_stopped(
    outbox: Database, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    [event_id] = await emit_events(outbox, f"{receiver.url}/ok")
    stop = asyncio.Event()
    task = asyncio.create_task(Deliverer(outbox, http, SECRETS).run(stop, interval=0.05))
    for _ in range(200):
        if receiver.received:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert receiver.received == [str(event_id)]
