"""The audit trail's hash chain: committed entries sealed into segments, and their verification.

Writers only insert (``store.record``); nothing on the write path is locked or ordered. The sealer
(one at a time, a transaction-scoped advisory lock) takes the entries no segment holds yet whose
transaction is older than every transaction still running (the *watermark*: no entry can commit
below it any more), orders them by ``(occurred_at, id)`` and hashes them in that order, starting
from the previous segment's anchor:

    link_0 = previous anchor
    link_i = sha256(link_{i-1} || digest(entry_i))
    anchor = sha256("seq|entries|previous|link_n")

Each entry keeps its own link (``chain_hash``), so verification names the first entry that breaks:
an edited entry breaks at itself, a deleted or moved one at the entry after it, a missing tail at
the segment's count, a deleted segment at the next one's ``previous``. Retention deletes whole
segments, oldest first, and keeps the last deleted anchor (``audit_cursors.pruned``) for
verification to start from. What stays undetectable inside the database alone is a rewrite of a
whole chain with its anchors: the anchors are also written to the stream, outside it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import AuditCursor, AuditEvent, AuditSegment

GENESIS = "0" * 64
PRUNED = "pruned"
SEAL_BATCH = 5000
VERIFY_PAGE = 200
# Every transaction older than this one has ended (committed or rolled back).
WATERMARK = text("SELECT (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint")
SEALER_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtext('gateway:audit-sealer'))")


def digest(event: AuditEvent) -> bytes:
    """The entry's content (everything but where the sealer put it), canonically encoded."""
    content = [
        str(event.id),
        event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        event.actor,
        event.action,
        str(event.connection_id) if event.connection_id else None,
        event.details,
        event.source_address,
        event.user_agent,
    ]
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(encoded.encode()).digest()


def link(previous: str, event: AuditEvent) -> str:
    return hashlib.sha256(bytes.fromhex(previous) + digest(event)).hexdigest()


def anchor_of(seq: int, entries: int, previous: str, last_link: str) -> str:
    return hashlib.sha256(f"{seq}|{entries}|{previous}|{last_link}".encode()).hexdigest()


async def watermark(session: AsyncSession) -> int:
    return int(await session.scalar(WATERMARK) or 0)


async def seal(session: AsyncSession) -> AuditSegment | None:
    """Seal the committed entries no segment holds yet into the next segment; None when there are
    none, or another sealer is at work. The caller commits."""
    if not await session.scalar(SEALER_LOCK):
        return None
    below = await watermark(session)
    entries = (
        await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.segment.is_(None), AuditEvent.txid < below)
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
            .limit(SEAL_BATCH)
        )
    ).all()
    if not entries:
        return None
    last = await session.scalar(select(AuditSegment).order_by(AuditSegment.seq.desc()).limit(1))
    if last is not None:
        seq, previous = last.seq + 1, last.anchor
    else:
        seq, previous = await _after_pruned(session)
    current = previous
    links = []
    for event in entries:
        current = link(current, event)
        links.append({"id": event.id, "segment": seq, "chain_hash": current})
    await session.execute(update(AuditEvent), links)
    segment = AuditSegment(
        seq=seq,
        first_at=entries[0].occurred_at,
        last_at=entries[-1].occurred_at,
        entries=len(entries),
        previous=previous,
        anchor=anchor_of(seq, len(entries), previous, current),
    )
    session.add(segment)
    await session.flush()
    return segment


async def _after_pruned(session: AsyncSession) -> tuple[int, str]:
    """Where the chain starts: after the last segment retention deleted, or at the beginning."""
    pruned = await session.get(AuditCursor, PRUNED)
    if pruned is None:
        return 1, GENESIS
    return pruned.position + 1, pruned.anchor or GENESIS


@dataclass(frozen=True)
class Break:
    """The first place the chain does not hold: a segment, and the entry when one can be named."""

    segment: int
    entry_id: uuid.UUID | None
    reason: str


@dataclass(frozen=True)
class Verification:
    segments: int
    entries: int
    unsealed: int
    first_break: Break | None


async def verify(session: AsyncSession) -> Verification:
    """Recompute every segment's chain, in order, from the last pruned anchor; stop at the first
    break. Reads only."""
    seq, previous = await _after_pruned(session)
    segments = entries = 0
    found: Break | None = None
    while found is None:
        page = (
            await session.scalars(
                select(AuditSegment)
                .where(AuditSegment.seq >= seq)
                .order_by(AuditSegment.seq)
                .limit(VERIFY_PAGE)
            )
        ).all()
        for segment in page:
            found = await _check(session, segment, seq, previous)
            if found is not None:
                break
            segments += 1
            entries += segment.entries
            seq, previous = segment.seq + 1, segment.anchor
        if len(page) < VERIFY_PAGE:
            break
    unsealed = await session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.segment.is_(None))
    )
    return Verification(segments, entries, int(unsealed or 0), found)


async def _check(
    session: AsyncSession, segment: AuditSegment, seq: int, previous: str
) -> Break | None:
    if segment.seq != seq:
        return Break(seq, None, f"segment {seq} is missing (the next one is {segment.seq})")
    if segment.previous != previous:
        return Break(seq, None, "its link to the segment before differs (edited or replaced)")
    held: Sequence[AuditEvent] = (
        await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.segment == seq)
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
    ).all()
    current = previous
    for event in held:
        current = link(current, event)
        if event.chain_hash != current:
            return Break(
                seq, event.id, "this entry was changed, or one before it deleted, moved or added"
            )
    if len(held) != segment.entries:
        return Break(seq, None, f"holds {len(held)} entries, sealed with {segment.entries}")
    if anchor_of(seq, segment.entries, previous, current) != segment.anchor:
        return Break(seq, None, "its anchor differs from its entries")
    return None


async def compare_anchors(
    session: AsyncSession, published: Iterable[tuple[int, str]]
) -> Break | None:
    """The first segment whose anchor the stream published (``(segment, anchor)`` pairs) differs
    from the stored one, or that is gone though retention did not prune it: a chain rewritten
    whole, anchors included, shows here."""
    pruned = await session.get(AuditCursor, PRUNED)
    pruned_through = pruned.position if pruned else 0
    for seq, anchor in sorted(published):
        stored = await session.get(AuditSegment, seq)
        if stored is None:
            if seq <= pruned_through:
                continue
            return Break(seq, None, "the stream published this segment; the database lacks it")
        if stored.anchor != anchor:
            return Break(seq, None, "its anchor differs from the one the stream published")
    return None
