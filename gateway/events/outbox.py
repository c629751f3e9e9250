"""The outbox: events written in the same transaction as the change they report.

Domains call ``emit`` inside their own transaction and never commit here; the ``Deliverer`` sends the
rows later, so an event exists if and only if its change was committed. Each event gets one delivery
per operator-wide endpoint its caller names and one per subscription that admits it (``routing``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.events import routing
from gateway.kit.clock import utcnow
from gateway.models import (
    Connection,
    ConnectionExternalId,
    EventDelivery,
    OutboxEvent,
    Subscription,
)

EVENT_TYPES = (
    "connection.created",
    "connection.refresh_failed",
    "connection.needs_reauth",
    "connection.recovered",
    "connection.credentials_unreadable",
    "connection.revoked",
    "provider.client_error",
)
# A test event, sent to one subscription on request (never routed).
PING = "gateway.ping"
# A provider's own event relayed as ``provider.<provider>.<its type>``: lower-case dotted words,
# at most the 64 characters ``outbox_events.type`` holds.
FORWARDED_TYPE = re.compile(r"provider\.[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_]*)+")
MAX_TYPE_LENGTH = 64


def forwarded_type(provider: str, provider_event_type: str) -> str | None:
    """The outbound type of a provider's event; None when the provider's type cannot be named
    (not dotted lower-case words, or too long)."""
    name = f"provider.{provider}.{provider_event_type}"
    return name if is_forwarded_type(name) else None


def is_forwarded_type(event_type: str) -> bool:
    return len(event_type) <= MAX_TYPE_LENGTH and FORWARDED_TYPE.fullmatch(event_type) is not None


async def emit(
    session: AsyncSession,
    endpoints: Sequence[str],
    event_type: str,
    data: Mapping[str, object],
    *,
    forwarded: bool = False,
) -> OutboxEvent:
    """Add one event to the caller's transaction (flushed, not committed), with one delivery per
    operator-wide endpoint in ``endpoints`` and one per subscription that admits it.

    With no deliveries the event is still written: it is the record of what happened. An event
    about a connection names it as ``data["connection_id"]``, its id as a string (the outbox
    indexes it, and routing reads it). A ``forwarded`` event is a provider's own, typed
    ``provider.<provider>.<type>`` rather than one of ``EVENT_TYPES``.
    """
    check_type(event_type, forwarded=forwarded)
    now = utcnow()
    event = OutboxEvent(id=uuid.uuid4(), type=event_type, occurred_at=now, data=dict(data))
    session.add(event)
    connection_id = routing.connection_of(data)
    subscriptions = (
        await routing.subscribers(session, event_type, connection_id)
        if connection_id is not None
        else []
    )
    # No relationship links the two tables, so the unit of work does not order them: event first.
    await session.flush()
    session.add_all(_deliveries(event, endpoints, subscriptions))
    await session.flush()
    return event


async def emit_each(
    session: AsyncSession,
    endpoints: Sequence[str],
    event_type: str,
    data: Sequence[Mapping[str, object]],
) -> list[OutboxEvent]:
    """``emit`` for many events of one of ``EVENT_TYPES`` at once, each routed as ``emit`` routes it:
    one routing query and two inserts whatever their number (flushed, not committed)."""
    check_type(event_type, forwarded=False)
    now = utcnow()
    events = [
        OutboxEvent(id=uuid.uuid4(), type=event_type, occurred_at=now, data=dict(one))
        for one in data
    ]
    named = {event.id: routing.connection_of(event.data) for event in events}
    connection_ids = [connection_id for connection_id in named.values() if connection_id]
    admitted = (
        await routing.subscribers_of(session, event_type, connection_ids) if connection_ids else {}
    )
    session.add_all(events)
    await session.flush()
    for event in events:
        connection_id = named[event.id]
        subscriptions = admitted.get(connection_id, []) if connection_id is not None else []
        session.add_all(_deliveries(event, endpoints, subscriptions))
    await session.flush()
    return events


def _deliveries(
    event: OutboxEvent, endpoints: Sequence[str], subscriptions: Sequence[Subscription]
) -> list[EventDelivery]:
    """The event's deliveries, due at once: one per operator-wide endpoint, one per subscription."""
    due = event.occurred_at
    return [
        *(
            EventDelivery(event_id=event.id, endpoint=endpoint, attempts=0, next_attempt_at=due)
            for endpoint in endpoints
        ),
        *(
            EventDelivery(
                event_id=event.id,
                endpoint=subscription.url,
                subscription_id=subscription.id,
                attempts=0,
                next_attempt_at=due,
            )
            for subscription in subscriptions
        ),
    ]


async def ping(session: AsyncSession, subscription_id: uuid.UUID, url: str) -> EventDelivery:
    """A ``gateway.ping`` event for one subscription only, due now (flushed, not committed)."""
    now = utcnow()
    event = OutboxEvent(
        id=uuid.uuid4(),
        type=PING,
        occurred_at=now,
        data={"subscription_id": str(subscription_id)},
    )
    session.add(event)
    await session.flush()
    delivery = EventDelivery(
        event_id=event.id,
        endpoint=url,
        subscription_id=subscription_id,
        attempts=0,
        next_attempt_at=now,
    )
    session.add(delivery)
    await session.flush()
    return delivery


def check_type(event_type: str, *, forwarded: bool) -> None:
    """ValueError unless ``event_type`` is one of the gateway's own (or, ``forwarded``, a
    provider's: ``provider.<provider>.<type>``)."""
    if forwarded:
        if not is_forwarded_type(event_type):
            raise ValueError(
                f"a forwarded event's type must be provider.<provider>.<type>: {event_type!r}"
            )
    elif event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}; expected one of {EVENT_TYPES}")


async def connection_data(
    session: AsyncSession, connection: Connection, reason: str | None
) -> dict[str, object]:
    """The public face of a connection in an event, its owner's external ids and labels with it
    (read in the caller's transaction); never a token."""
    return {
        **await connection_identity(session, connection),
        "status": connection.status.value,
        "reason": reason,
    }


async def connection_data_of(
    session: AsyncSession, connections: Sequence[Connection], reason: str | None
) -> list[dict[str, object]]:
    """``connection_data`` for each of ``connections``, their external ids read in one query."""
    external_ids = await _external_ids(session, [connection.id for connection in connections])
    return [
        {
            **_identity(connection, external_ids.get(connection.id, [])),
            "status": connection.status.value,
            "reason": reason,
        }
        for connection in connections
    ]


async def connection_identity(session: AsyncSession, connection: Connection) -> dict[str, object]:
    """Which connection an event is about: its id, user, provider, external ids and labels."""
    external_ids = await _external_ids(session, [connection.id])
    return _identity(connection, external_ids.get(connection.id, []))


def _identity(connection: Connection, external_ids: Sequence[str]) -> dict[str, object]:
    return {
        "connection_id": str(connection.id),
        "user_id": connection.user_id,
        "provider": connection.provider,
        "external_ids": sorted(external_ids),
        "labels": connection.labels,
    }


async def _external_ids(
    session: AsyncSession, connection_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    rows = await session.execute(
        select(ConnectionExternalId.connection_id, ConnectionExternalId.external_id).where(
            ConnectionExternalId.connection_id.in_(connection_ids)
        )
    )
    found: dict[uuid.UUID, list[str]] = {}
    for connection_id, external_id in rows:
        found.setdefault(connection_id, []).append(external_id)
    return found
