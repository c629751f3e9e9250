"""Writing and reading audit events. Callers own the transaction; details never hold a token."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kit.clock import rfc3339
from gateway.kit.pagination import Page, keyset_page
from gateway.models import AuditEvent

LISTING = "audit-events"


def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    connection_id: uuid.UUID | None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        id=uuid.uuid4(),
        actor=actor[:200],
        action=action,
        connection_id=connection_id,
        details=dict(details or {}),
    )
    session.add(event)
    return event


async def latest(
    session: AsyncSession, connection_id: uuid.UUID, limit: int
) -> Sequence[AuditEvent]:
    """The connection's newest events, newest first."""
    return (
        await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.connection_id == connection_id)
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    ).all()


async def page(
    session: AsyncSession,
    *,
    connection_id: uuid.UUID | None,
    action: str | None,
    cursor: str | None,
    limit: int,
) -> Page[AuditEvent]:
    """Newest first; keyset-paginated on (occurred_at, id)."""
    statement = select(AuditEvent)
    if connection_id is not None:
        statement = statement.where(AuditEvent.connection_id == connection_id)
    if action is not None:
        statement = statement.where(AuditEvent.action == action)
    return await keyset_page(
        session,
        statement,
        listing=LISTING,
        at=AuditEvent.occurred_at,
        id_=AuditEvent.id,
        cursor=cursor,
        limit=limit,
    )


async def since(
    session: AsyncSession,
    moment: datetime,
    *,
    connection_id: uuid.UUID | None = None,
    action: str | None = None,
    limit: int = 500,
) -> Sequence[AuditEvent]:
    """Events that occurred at or after ``moment``, oldest first (for following the trail)."""
    statement = select(AuditEvent).where(AuditEvent.occurred_at >= moment)
    if connection_id is not None:
        statement = statement.where(AuditEvent.connection_id == connection_id)
    if action is not None:
        statement = statement.where(AuditEvent.action == action)
    statement = statement.order_by(AuditEvent.occurred_at, AuditEvent.id).limit(limit)
    return (await session.scalars(statement)).all()


def event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "occurred_at": rfc3339(event.occurred_at),
        "actor": event.actor,
        "action": event.action,
        "connection_id": str(event.connection_id) if event.connection_id else None,
        "details": event.details,
    }
