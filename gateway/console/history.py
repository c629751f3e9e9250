"""What happened to a connection, for its console page: audit trail, outbound events, pending
upstream revocation. Callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import store as audit
from gateway.connections import queries
from gateway.models import AuditEvent, Connection, EventDelivery, OutboxEvent, PendingRevocation
from gateway.tokens.pending_revocations import pending_for

SHOWN = 50


@dataclass(frozen=True)
class Outbound:
    """An outbound event about the connection and its delivery to each endpoint."""

    event: OutboxEvent
    deliveries: Sequence[EventDelivery]


@dataclass(frozen=True)
class History:
    connection: Connection
    pending: PendingRevocation | None
    audit: Sequence[AuditEvent]
    outbound: Sequence[Outbound]


async def load(session: AsyncSession, connection_id: uuid.UUID) -> History:
    """ConnectionNotFound unless the connection exists."""
    connection = await queries.get(session, connection_id)
    return History(
        connection=connection,
        pending=await pending_for(session, connection_id),
        audit=await audit.latest(session, connection_id, SHOWN),
        outbound=await outbound(session, connection_id, SHOWN),
    )


async def outbound(session: AsyncSession, connection_id: uuid.UUID, limit: int) -> list[Outbound]:
    """The connection's newest outbound events, newest first."""
    events = (
        await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.connection_id == connection_id)
            .order_by(OutboxEvent.occurred_at.desc(), OutboxEvent.id.desc())
            .limit(limit)
        )
    ).all()
    if not events:
        return []
    deliveries = (
        await session.scalars(
            select(EventDelivery)
            .where(EventDelivery.event_id.in_([event.id for event in events]))
            .order_by(EventDelivery.endpoint)
        )
    ).all()
    return [Outbound(event, [d for d in deliveries if d.event_id == event.id]) for event in events]
