"""The outbox: events written in the same transaction as the change they report.

Domains call ``emit`` inside their own transaction and never commit here; the ``Deliverer`` sends the
rows later, so an event exists if and only if its change was committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kit.clock import utcnow
from gateway.models import Connection, ConnectionExternalId, EventDelivery, OutboxEvent

EVENT_TYPES = (
    "connection.created",
    "connection.refresh_failed",
    "connection.needs_reauth",
    "connection.recovered",
    "connection.credentials_unreadable",
    "connection.revoked",
    "provider.client_error",
)


async def emit(
    session: AsyncSession,
    endpoints: Sequence[str],
    event_type: str,
    data: Mapping[str, object],
) -> OutboxEvent:
    """Add one event and one delivery per endpoint to the caller's transaction (flushed, not committed).

    With no endpoints the event is still written: it is the record of what happened. An event about
    a connection names it as ``data["connection_id"]``, its id as a string (the outbox indexes it).
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}; expected one of {EVENT_TYPES}")
    now = utcnow()
    event = OutboxEvent(id=uuid.uuid4(), type=event_type, occurred_at=now, data=dict(data))
    session.add(event)
    # No relationship links the two tables, so the unit of work does not order them: event first.
    await session.flush()
    session.add_all(
        EventDelivery(event_id=event.id, endpoint=endpoint, attempts=0, next_attempt_at=now)
        for endpoint in endpoints
    )
    await session.flush()
    return event


async def connection_data(
    session: AsyncSession, connection: Connection, reason: str | None
) -> dict[str, object]:
    """The public face of a connection in an event, its owner's external ids and labels with it
    (read in the caller's transaction); never a token."""
    external_ids = await session.scalars(
        select(ConnectionExternalId.external_id).where(
            ConnectionExternalId.connection_id == connection.id
        )
    )
    return {
        "connection_id": str(connection.id),
        "user_id": connection.user_id,
        "provider": connection.provider,
        "status": connection.status.value,
        "reason": reason,
        "external_ids": sorted(external_ids),
        "labels": connection.labels,
    }
