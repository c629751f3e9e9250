"""Writing and reading audit events. Callers own the transaction; details never hold a token.

An entry names its actor (``client:<name>``, ``cli:<os user>``, ``sso:<subject or email>``) and,
when written while a request is answered, that request's source address and user agent
(``gateway.kit.origin``). Writing is a plain insert: the chain and the stream come later
(``gateway.audit.chain``, ``gateway.audit.stream``), from committed entries only."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kit import origin
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
    source = origin.current.get()
    event = AuditEvent(
        id=uuid.uuid4(),
        actor=actor[:200],
        action=action,
        connection_id=connection_id,
        details=dict(details or {}),
        source_address=source.address if source else None,
        user_agent=source.user_agent if source else None,
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


@dataclass(frozen=True)
class Filter:
    """Which entries: each field, when set, must match (``since`` inclusive, ``until`` exclusive)."""

    connection_id: uuid.UUID | None = None
    action: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, statement: Select[AuditEvent]) -> Select[AuditEvent]:
        if self.connection_id is not None:
            statement = statement.where(AuditEvent.connection_id == self.connection_id)
        if self.action is not None:
            statement = statement.where(AuditEvent.action == self.action)
        if self.actor is not None:
            statement = statement.where(AuditEvent.actor == self.actor)
        if self.since is not None:
            statement = statement.where(AuditEvent.occurred_at >= self.since)
        if self.until is not None:
            statement = statement.where(AuditEvent.occurred_at < self.until)
        return statement


async def page(
    session: AsyncSession, chosen: Filter, *, cursor: str | None, limit: int
) -> Page[AuditEvent]:
    """Newest first; keyset-paginated on (occurred_at, id)."""
    return await keyset_page(
        session,
        chosen.apply(select(AuditEvent)),
        listing=LISTING,
        at=AuditEvent.occurred_at,
        id_=AuditEvent.id,
        cursor=cursor,
        limit=limit,
    )


async def oldest_first(
    session: AsyncSession,
    chosen: Filter,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[AuditEvent]:
    """The chosen entries after ``after`` (an entry's ``(occurred_at, id)``), oldest first."""
    statement = chosen.apply(select(AuditEvent))
    if after is not None:
        statement = statement.where(tuple_(AuditEvent.occurred_at, AuditEvent.id) > after)
    statement = statement.order_by(AuditEvent.occurred_at, AuditEvent.id).limit(limit)
    return (await session.scalars(statement)).all()


async def since(
    session: AsyncSession,
    moment: datetime,
    *,
    connection_id: uuid.UUID | None = None,
    action: str | None = None,
    limit: int = 500,
) -> Sequence[AuditEvent]:
    """Events that occurred at or after ``moment``, oldest first (for following the trail)."""
    chosen = Filter(connection_id=connection_id, action=action, since=moment)
    return await oldest_first(session, chosen, after=None, limit=limit)


def event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "occurred_at": rfc3339(event.occurred_at),
        "actor": event.actor,
        "action": event.action,
        "connection_id": str(event.connection_id) if event.connection_id else None,
        "details": event.details,
        "source_address": event.source_address,
        "user_agent": event.user_agent,
    }
