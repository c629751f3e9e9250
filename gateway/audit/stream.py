"""The audit trail's job: seal committed entries into segments, and stream entries and anchors.

Only committed entries are ever streamed: a round takes the entries whose writing transaction is
older than every transaction still running (``chain.watermark``), so a rolled-back change never
appears, and one that commits late is taken once it has. The ``stream`` cursor
(``audit_cursors``) moves only after the sink took a round's lines: at least once across a crash
(a line may come twice; its ``id`` tells). One replica does this at a time (an advisory lock held
for the round on a connection of its own); the write path takes no lock.

Lines, in the order written:

- ``{"type": "audit.entry", "id", "occurred_at", "actor", "action", "connection_id", "details",
  "source_address", "user_agent"}``
- ``{"type": "audit.anchor", "segment", "entries", "first_at", "last_at", "previous", "anchor"}``,
  once the segment's entries were streamed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update

from gateway.audit import chain, store
from gateway.audit.sinks import Sink
from gateway.kit import jobs
from gateway.kit.clock import rfc3339, utcnow
from gateway.kit.db import Database
from gateway.models import AuditCursor, AuditEvent, AuditSegment

log = logging.getLogger(__name__)

STREAM = "stream"
BATCH = 1000
LOCK_KEY = "gateway:audit-stream"


def entry_line(event: AuditEvent) -> dict[str, Any]:
    return {"type": "audit.entry", **store.event_json(event)}


def anchor_line(segment: AuditSegment) -> dict[str, Any]:
    return {
        "type": "audit.anchor",
        "segment": segment.seq,
        "entries": segment.entries,
        "first_at": rfc3339(segment.first_at),
        "last_at": rfc3339(segment.last_at),
        "previous": segment.previous,
        "anchor": segment.anchor,
    }


async def seal(db: Database) -> AuditSegment | None:
    """Seal what is committed and unsealed into one segment, in a transaction of its own."""
    async with db.transaction() as session:
        return await chain.seal(session)


@dataclass(frozen=True)
class Round:
    entries: int
    anchors: int
    full: bool


async def stream(db: Database, sink: Sink) -> Round | None:
    """One round: committed entries not yet streamed (up to ``BATCH``), then the anchors of
    sealed segments not yet streamed; None when another replica is streaming."""
    async with jobs.one_replica(db, LOCK_KEY) as taken:
        return await _stream_round(db, sink) if taken else None


async def _stream_round(db: Database, sink: Sink) -> Round:
    async with db.transaction() as session:
        cursor = await session.get(AuditCursor, STREAM)
        position = cursor.position if cursor else 0
        last_id = cursor.last_id if cursor else None
        below = await chain.watermark(session)
        unstreamed = select(AuditEvent).where(AuditEvent.txid >= position, AuditEvent.txid < below)
        if last_id is not None:  # of ``position`` itself, those up to ``last_id`` were streamed
            unstreamed = unstreamed.where(or_(AuditEvent.txid > position, AuditEvent.id > last_id))
        entries: Sequence[AuditEvent] = (
            await session.scalars(unstreamed.order_by(AuditEvent.txid, AuditEvent.id).limit(BATCH))
        ).all()
        full = len(entries) == BATCH
        # A segment's anchor follows its entries: none while entries below the watermark wait.
        anchors: Sequence[AuditSegment] = (
            []
            if full
            else (
                await session.scalars(
                    select(AuditSegment)
                    .where(AuditSegment.streamed_at.is_(None))
                    .order_by(AuditSegment.seq)
                )
            ).all()
        )
        lines = [entry_line(e) for e in entries] + [anchor_line(s) for s in anchors]
    if lines:
        await asyncio.to_thread(sink.write, lines)
    async with db.transaction() as session:
        cursor = await session.get(AuditCursor, STREAM, with_for_update=True)
        if cursor is None:
            cursor = AuditCursor(name=STREAM, position=0)
            session.add(cursor)
        if full:
            cursor.position, cursor.last_id = entries[-1].txid, entries[-1].id
        else:
            cursor.position, cursor.last_id = below, None
        if anchors:
            await session.execute(
                update(AuditSegment)
                .where(AuditSegment.seq.in_([s.seq for s in anchors]))
                .values(streamed_at=utcnow())
            )
    return Round(len(entries), len(anchors), full)


async def run(
    db: Database,
    sink: Sink | None,
    stop: asyncio.Event,
    *,
    stream_interval: float,
    seal_interval: float,
) -> None:
    """Stream every ``stream_interval`` seconds (when there is a sink) and seal every
    ``seal_interval`` seconds, until ``stop`` is set."""
    sealed_at = time.monotonic()

    async def one_round() -> bool:
        nonlocal sealed_at
        if time.monotonic() - sealed_at >= seal_interval:
            sealed_at = time.monotonic()
            while (segment := await seal(db)) is not None and segment.entries == chain.SEAL_BATCH:
                pass  # more were waiting than one segment holds
        if sink is None:
            return False
        done = await stream(db, sink)
        return done is not None and done.full

    interval = stream_interval if sink is not None else seal_interval
    try:
        await jobs.every(interval, stop, one_round, log=log, failed="audit stream round failed")
    finally:
        if sink is not None:
            sink.close()
