"""The dead-letter list: deliveries abandoned after their last attempt, and re-sending them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kit.clock import utcnow
from gateway.models import EventDelivery, OutboxEvent


@dataclass(frozen=True)
class DeadLetter:
    delivery_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    endpoint: str
    attempts: int
    last_error: str | None
    occurred_at: datetime
    abandoned_at: datetime


async def list_dead(session: AsyncSession, limit: int = 100) -> list[DeadLetter]:
    rows = await session.execute(
        select(EventDelivery, OutboxEvent)
        .join(OutboxEvent, OutboxEvent.id == EventDelivery.event_id)
        .where(EventDelivery.abandoned_at.is_not(None))
        .order_by(EventDelivery.abandoned_at.desc())
        .limit(limit)
    )
    return [
        DeadLetter(
            delivery_id=delivery.id,
            event_id=event.id,
            event_type=event.type,
            endpoint=delivery.endpoint,
            attempts=delivery.attempts,
            last_error=delivery.last_error,
            occurred_at=event.occurred_at,
            abandoned_at=delivery.abandoned_at,  # type: ignore[arg-type]
        )
        for delivery, event in rows
    ]


async def replay(session: AsyncSession, delivery_ids: Sequence[uuid.UUID] | None = None) -> int:
    """Put abandoned deliveries (these, or all of them) back in line with a fresh set of attempts.

    The event keeps its id, so receivers that deduplicate on ``webhook-id`` are safe.
    """
    query = update(EventDelivery).where(EventDelivery.abandoned_at.is_not(None))
    if delivery_ids is not None:
        query = query.where(EventDelivery.id.in_(delivery_ids))
    result = await session.execute(
        query.values(abandoned_at=None, attempts=0, next_attempt_at=utcnow(), last_error=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)
