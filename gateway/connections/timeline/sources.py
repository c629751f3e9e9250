"""Reading a connection's timeline from where each fact is written: a page newest first, or one
entry by id. Callers own the transaction.

A page reads each source past the same cursor, at most ``limit + 1`` rows each, by its index on
(connection_id, occurred_at, id), and merges them (``kit.pagination.merged_page``); the outbound
events' deliveries come by their index on ``event_id``. So a page costs one indexed query per
source, and one more for deliveries, however long the connection's history is.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from gateway.connections.errors import TimelineEntryNotFound
from gateway.connections.timeline.entries import (
    AUDIT_KINDS,
    OTHER,
    OUTBOUND_EVENT,
    RECORD_KINDS,
    TimelineEntry,
    from_audit,
    from_event,
    from_record,
)
from gateway.kit import query
from gateway.kit.pagination import Cursor, Page, decode, keyset_rows, merged_page
from gateway.models import AuditEvent, EventDelivery, OutboxEvent, TimelineRecord

LISTING = "timeline"
S = TypeVar("S", bound=Select[Any])


@dataclass(frozen=True)
class TimelineFilter:
    kinds: frozenset[str] | None = None  # None: every kind
    since: datetime | None = None  # at or after
    until: datetime | None = None  # before

    def wants(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds

    def within(self, statement: S, at: InstrumentedAttribute[datetime]) -> S:
        if self.since is not None:
            statement = statement.where(at >= self.since)
        if self.until is not None:
            statement = statement.where(at < self.until)
        return statement


async def page(
    session: AsyncSession,
    connection_id: uuid.UUID,
    where: TimelineFilter,
    *,
    cursor: str | None,
    limit: int,
) -> Page[TimelineEntry]:
    """One page of the connection's timeline, newest first (ties broken by id)."""
    reading = _Reading(session, connection_id, where, decode(LISTING, cursor), limit)
    sources = [await reading.audit(), await reading.records(), await reading.events()]
    return merged_page(sources, listing=LISTING, limit=limit, key=lambda entry: entry.position)


def parse_entry_id(text: str) -> uuid.UUID:
    """An entry id from a path; a malformed one names no entry (404)."""
    parsed = query.id_in_path(text)
    if parsed is None:
        raise entry_not_found(text[:64])
    return parsed


def entry_not_found(entry_id: object) -> TimelineEntryNotFound:
    return TimelineEntryNotFound(
        f"this connection's timeline has no entry {str(entry_id)!r}",
        details={"entry_id": str(entry_id)},
    )


async def entry(
    session: AsyncSession, connection_id: uuid.UUID, entry_id: uuid.UUID
) -> TimelineEntry:
    """One entry of the connection's timeline; TimelineEntryNotFound else."""
    audited = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.id == entry_id, AuditEvent.connection_id == connection_id
        )
    )
    if audited is not None:
        return from_audit(audited)
    record = await session.scalar(
        select(TimelineRecord).where(
            TimelineRecord.id == entry_id, TimelineRecord.connection_id == connection_id
        )
    )
    if record is not None:
        return from_record(record)
    event = await session.scalar(
        select(OutboxEvent).where(
            OutboxEvent.id == entry_id, OutboxEvent.connection_id == connection_id
        )
    )
    if event is not None:
        [found] = await _with_deliveries(session, [event])
        return found
    raise entry_not_found(entry_id)


@dataclass(frozen=True)
class _Reading:
    """One page's read of each source, past the same cursor."""

    session: AsyncSession
    connection_id: uuid.UUID
    where: TimelineFilter
    after: Cursor | None
    limit: int

    async def newest(
        self,
        statement: Select[Any],
        at: InstrumentedAttribute[datetime],
        id_: InstrumentedAttribute[uuid.UUID],
    ) -> list[Any]:
        within = self.where.within(statement, at)
        return await keyset_rows(
            self.session, within, at=at, id_=id_, after=self.after, limit=self.limit
        )

    async def audit(self) -> list[TimelineEntry]:
        statement = select(AuditEvent).where(AuditEvent.connection_id == self.connection_id)
        kinds = self.where.kinds
        if kinds is not None:
            chosen: list[ColumnElement[bool]] = []
            actions = [action for action, kind in AUDIT_KINDS.items() if kind in kinds]
            if actions:
                chosen.append(AuditEvent.action.in_(actions))
            if OTHER in kinds:
                chosen.append(AuditEvent.action.not_in(list(AUDIT_KINDS)))
            if not chosen:
                return []
            statement = statement.where(or_(*chosen))
        rows = await self.newest(statement, AuditEvent.occurred_at, AuditEvent.id)
        return [from_audit(row) for row in rows]

    async def records(self) -> list[TimelineEntry]:
        kinds = [kind for kind in RECORD_KINDS if self.where.wants(kind)]
        if not kinds:
            return []
        statement = select(TimelineRecord).where(TimelineRecord.connection_id == self.connection_id)
        if len(kinds) < len(RECORD_KINDS):
            statement = statement.where(TimelineRecord.kind.in_(kinds))
        rows = await self.newest(statement, TimelineRecord.occurred_at, TimelineRecord.id)
        return [from_record(row) for row in rows]

    async def events(self) -> list[TimelineEntry]:
        if not self.where.wants(OUTBOUND_EVENT):
            return []
        statement = select(OutboxEvent).where(OutboxEvent.connection_id == self.connection_id)
        rows = await self.newest(statement, OutboxEvent.occurred_at, OutboxEvent.id)
        return await _with_deliveries(self.session, rows)


async def _with_deliveries(
    session: AsyncSession, events: Sequence[OutboxEvent]
) -> list[TimelineEntry]:
    if not events:
        return []
    deliveries = await session.scalars(
        select(EventDelivery)
        .where(EventDelivery.event_id.in_([event.id for event in events]))
        .order_by(EventDelivery.endpoint, EventDelivery.id)
    )
    by_event: dict[uuid.UUID, list[EventDelivery]] = defaultdict(list)
    for delivery in deliveries:
        by_event[delivery.event_id].append(delivery)
    return [from_event(event, by_event[event.id]) for event in events]
