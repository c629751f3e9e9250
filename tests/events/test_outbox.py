"""``emit`` writes into the caller's transaction and lives or dies with it."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from gateway.events.outbox import EVENT_TYPES, connection_data, emit, forwarded_type
from gateway.kit.db import Database
from gateway.models import Connection, ConnectionStatus, EventDelivery, OutboxEvent


class Rollback(Exception):
    pass


async def deliveries_of(db: Database, event_id: uuid.UUID) -> list[EventDelivery]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(EventDelivery).where(EventDelivery.event_id == event_id)
        )
        return list(rows)


async def test_an_event_gets_one_pending_delivery_per_endpoint(db: Database) -> None:
    async with db.transaction() as session:
        event = await emit(
            session, ["http://a.test/hook", "http://b.test/hook"], "connection.created", {"k": 1}
        )
    deliveries = await deliveries_of(db, event.id)
    assert sorted(d.endpoint for d in deliveries) == ["http://a.test/hook", "http://b.test/hook"]
    assert all(d.attempts == 0 and d.delivered_at is None for d in deliveries)


async def test_without_endpoints_the_event_is_still_recorded(db: Database) -> None:
    async with db.transaction() as session:
        event = await emit(session, [], "provider.client_error", {"provider": "contio"})
    async with db.transaction() as session:
        stored = await session.get(OutboxEvent, event.id)
    assert stored is not None and stored.type == "provider.client_error"
    assert stored.data == {"provider": "contio"}
    assert await deliveries_of(db, event.id) == []


async def emit_then_roll_back(db: Database) -> uuid.UUID:
    emitted: list[uuid.UUID] = []
    with contextlib.suppress(Rollback):
        async with db.transaction() as session:
            event = await emit(session, ["http://a.test/hook"], "connection.revoked", {})
            emitted.append(event.id)
            count = await session.scalar(
                select(func.count()).where(EventDelivery.event_id == event.id)
            )
            assert count == 1  # visible inside the transaction
            raise Rollback
    return emitted[0]


async def test_the_event_is_rolled_back_with_the_callers_transaction(db: Database) -> None:
    event_id = await emit_then_roll_back(db)
    async with db.transaction() as session:
        assert await session.get(OutboxEvent, event_id) is None
    assert await deliveries_of(db, event_id) == []


async def test_an_unknown_event_type_is_refused(db: Database) -> None:
    async with db.transaction() as session:
        with pytest.raises(ValueError, match="unknown event type"):
            await emit(session, [], "connection.exploded", {})


def test_every_event_type_is_a_dotted_name() -> None:
    assert all("." in event_type for event_type in EVENT_TYPES)


async def test_connection_data_names_the_connection_and_never_a_token(db: Database) -> None:
    connection = Connection(
        id=uuid.uuid4(),
        user_id="user-1",
        provider="contio",
        subject="contio-user-1",
        status=ConnectionStatus.NEEDS_REAUTH,
        access_token="sealed-access",
        refresh_token="sealed-refresh",
        connected_at=datetime.now(UTC),
        labels={"team": "sales"},
    )
    async with db.transaction() as session:
        data = await connection_data(session, connection, "invalid_grant")
    assert data == {
        "connection_id": str(connection.id),
        "user_id": "user-1",
        "provider": "contio",
        "status": "needs_reauth",
        "reason": "invalid_grant",
        "external_ids": [],
        "labels": {"team": "sales"},
    }
    assert "sealed" not in repr(data)


async def test_a_forwarded_event_is_named_for_its_provider_and_type(db: Database) -> None:
    async with db.transaction() as session:
        event = await emit(
            session, ["http://a.test/hook"], "provider.contio.meeting.created", {}, forwarded=True
        )
    assert [d.endpoint for d in await deliveries_of(db, event.id)] == ["http://a.test/hook"]
    assert forwarded_type("contio", "meeting.context.processed") == (
        "provider.contio.meeting.context.processed"
    )
    for unnamable in ("Meeting.Created", "meeting created", "meeting.", "x" * 60):
        assert forwarded_type("contio", unnamable) is None


@pytest.mark.parametrize(
    ("event_type", "forwarded"),
    [
        ("connection.created", True),  # the gateway's own types are not forwarded ones
        ("provider.contio.meeting.created", False),  # nor the reverse
        ("provider.contio", True),  # a provider's type is needed
    ],
)
async def test_a_type_of_the_wrong_kind_is_refused(
    db: Database, event_type: str, forwarded: bool
) -> None:
    with pytest.raises(ValueError, match="type"):
        async with db.transaction() as session:
            await emit(session, [], event_type, {}, forwarded=forwarded)
