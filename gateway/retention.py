"""Keeping the tables that only grow from growing for ever.

Delivered events (and events that had nowhere to go) are deleted after ``outbox_retention_days``;
events with an abandoned delivery are the dead-letter list and stay for ``dead_letter_retention_days``
so that ``gateway events replay`` can still re-send them; audit events stay for
``audit_retention_days``, deleted a whole sealed segment at a time so the hash chain still verifies
(``gateway.audit.chain``); timeline records (refreshes, provider webhooks received) for
``timeline_retention_days``; provider webhook events that matched no connection for
``unmatched_event_retention_days``. Finished flows go a day after they ended: connect sessions past
their expiry, provisionings past their session, delegated keys past their expiry or revocation,
Idempotency-Key answers past their 24 hours, and provider webhook ids past the replay window.
Deletes run in batches, each its own short transaction, and only one replica prunes at a time (an
advisory lock), so pruning never blocks the service for long.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, delete, exists, func, or_, select

from gateway.audit import chain
from gateway.kit import jobs
from gateway.kit.clock import utcnow
from gateway.kit.db import Database
from gateway.models import (
    AuditCursor,
    AuditEvent,
    AuditSegment,
    ConnectSession,
    DelegatedKey,
    EventDelivery,
    IdempotencyKey,
    OutboxEvent,
    Provisioning,
    SeenWebhook,
    TimelineRecord,
    UnmatchedEvent,
)
from gateway.settings import Settings

log = logging.getLogger(__name__)

BATCH = 1000
FINISHED_FLOW_GRACE = timedelta(days=1)
HasId = (
    ConnectSession
    | DelegatedKey
    | IdempotencyKey
    | OutboxEvent
    | Provisioning
    | TimelineRecord
    | UnmatchedEvent
)
LOCK_KEY = "gateway:retention"
AUDIT_SEGMENTS_A_BATCH = 10


@dataclass(frozen=True)
class Pruned:
    events: int = 0
    dead_letters: int = 0
    audit_events: int = 0
    timeline_records: int = 0
    flows: int = 0
    unmatched_events: int = 0


async def prune(db: Database, settings: Settings, now: datetime | None = None) -> Pruned | None:
    """One pass; None when another replica holds the pruning lock."""
    now = now or utcnow()
    async with jobs.one_replica(db, LOCK_KEY) as taken:
        if not taken:
            return None
        return Pruned(
            events=await _prune_events(
                db, now - timedelta(days=settings.outbox_retention_days), dead=False
            ),
            dead_letters=await _prune_events(
                db, now - timedelta(days=settings.dead_letter_retention_days), dead=True
            ),
            audit_events=await _prune_audit(
                db, now - timedelta(days=settings.audit_retention_days)
            ),
            timeline_records=await _prune_timeline(
                db, now - timedelta(days=settings.timeline_retention_days)
            ),
            flows=await _prune_flows(db, settings, now),
            unmatched_events=await _prune_unmatched(
                db, now - timedelta(days=settings.unmatched_event_retention_days)
            ),
        )


async def _prune_events(db: Database, before: datetime, *, dead: bool) -> int:
    """Events older than ``before``: finished ones, or (``dead``) those with an abandoned delivery."""
    unfinished = exists().where(
        EventDelivery.event_id == OutboxEvent.id, EventDelivery.delivered_at.is_(None)
    )
    abandoned = exists().where(
        EventDelivery.event_id == OutboxEvent.id, EventDelivery.abandoned_at.is_not(None)
    )
    condition = abandoned if dead else ~unfinished
    batch = select(OutboxEvent.id).where(and_(OutboxEvent.occurred_at < before, condition))
    return await _delete_in_batches(db, OutboxEvent, batch)


async def _prune_audit(db: Database, before: datetime) -> int:
    """Sealed segments, oldest first, while the newest entry of each is older than ``before``
    (entries not yet sealed wait for their segment); the last deleted one's anchor is kept for
    verification to start from."""
    total = 0
    while True:
        async with db.transaction() as session:
            oldest = (
                await session.scalars(
                    select(AuditSegment).order_by(AuditSegment.seq).limit(AUDIT_SEGMENTS_A_BATCH)
                )
            ).all()
            doomed = list(itertools.takewhile(lambda segment: segment.last_at < before, oldest))
            if not doomed:
                return total
            seqs = [segment.seq for segment in doomed]
            result = await session.execute(delete(AuditEvent).where(AuditEvent.segment.in_(seqs)))
            await session.execute(delete(AuditSegment).where(AuditSegment.seq.in_(seqs)))
            await session.merge(
                AuditCursor(name=chain.PRUNED, position=seqs[-1], anchor=doomed[-1].anchor)
            )
        total += int(getattr(result, "rowcount", 0) or 0)


async def _prune_timeline(db: Database, before: datetime) -> int:
    batch = select(TimelineRecord.id).where(TimelineRecord.occurred_at < before)
    return await _delete_in_batches(db, TimelineRecord, batch)


async def _prune_unmatched(db: Database, before: datetime) -> int:
    batch = select(UnmatchedEvent.id).where(UnmatchedEvent.received_at < before)
    return await _delete_in_batches(db, UnmatchedEvent, batch)


async def _prune_flows(db: Database, settings: Settings, now: datetime) -> int:
    """Connect sessions, provisionings, delegated keys, idempotency answers and webhook ids nobody
    can use any more (a delegated key's history stays in the audit trail)."""
    day_ago = now - FINISHED_FLOW_GRACE
    deleted = await _delete_in_batches(
        db, ConnectSession, select(ConnectSession.id).where(ConnectSession.expires_at < day_ago)
    )
    deleted += await _delete_in_batches(
        db,
        DelegatedKey,
        select(DelegatedKey.id).where(
            func.coalesce(DelegatedKey.revoked_at, DelegatedKey.expires_at) < day_ago
        ),
    )
    ended = func.coalesce(Provisioning.session_expires_at, Provisioning.code_expires_at)
    deleted += await _delete_in_batches(
        db,
        Provisioning,
        select(Provisioning.id).where(ended < day_ago, Provisioning.updated_at < day_ago),
    )
    deleted += await _delete_in_batches(
        db,
        IdempotencyKey,
        select(IdempotencyKey.id).where(
            IdempotencyKey.expires_at < now,
            or_(IdempotencyKey.lease_expires_at.is_(None), IdempotencyKey.lease_expires_at < now),
        ),
    )
    replay_window = timedelta(seconds=2 * settings.webhook_tolerance_seconds)
    async with db.transaction() as session:
        result = await session.execute(
            delete(SeenWebhook).where(SeenWebhook.received_at < now - replay_window)
        )
    return deleted + int(getattr(result, "rowcount", 0) or 0)


async def _delete_in_batches(db: Database, model: type[HasId], batch: Select[uuid.UUID]) -> int:
    total = 0
    while True:
        async with db.transaction() as session:
            result = await session.execute(
                delete(model).where(model.id.in_(batch.limit(BATCH).scalar_subquery()))
            )
        deleted = int(getattr(result, "rowcount", 0) or 0)
        total += deleted
        if deleted < BATCH:
            return total


async def run(db: Database, settings: Settings, stop: asyncio.Event) -> None:
    """Prune every ``retention_interval_seconds`` until ``stop`` is set."""

    async def one_round() -> bool:
        pruned = await prune(db, settings)
        if pruned is not None and any(vars(pruned).values()):
            log.info(
                "retention: deleted %d events, %d dead letters, %d audit events, "
                "%d timeline records, %d finished flows, %d unmatched provider events",
                pruned.events,
                pruned.dead_letters,
                pruned.audit_events,
                pruned.timeline_records,
                pruned.flows,
                pruned.unmatched_events,
            )
        return False

    failed = "retention pass failed; trying again next interval"
    await jobs.every(settings.retention_interval_seconds, stop, one_round, log=log, failed=failed)
