"""The hash chain: ``gateway audit verify`` finds a deleted, edited, reordered or added entry and a
deleted segment, and still passes after retention pruned whole segments."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from gateway import retention
from gateway.audit import chain, stream
from gateway.audit.sinks import JsonLines
from gateway.kit.clock import utcnow
from gateway.kit.db import Database
from gateway.models import AuditEvent, AuditSegment
from gateway.settings import Settings
from tests.audit.conftest import gateway, seal, settled, write
from tests.fixtures.stack import Stack

pytestmark = pytest.mark.usefixtures("trail_env")


async def sealed_order(db: Database, segment: int) -> list[uuid.UUID]:
    """The segment's entries in the order they were hashed."""
    async with db.transaction() as session:
        found = await session.scalars(
            select(AuditEvent.id)
            .where(AuditEvent.segment == segment)
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
        return list(found)


async def verified() -> dict[str, object]:
    result = await gateway(["audit", "verify", "--json"])
    report: dict[str, object] = json.loads(result.output)
    assert result.exit_code == (0 if report["intact"] else 1), result.output
    return report


async def three_segments(trail: Database) -> None:
    for count in (3, 4, 2):
        await write(trail, count)
        await seal(trail)


async def test_an_untouched_trail_verifies(trail: Database) -> None:
    await three_segments(trail)
    await write(trail, 1)  # committed, not sealed yet

    result = await gateway(["audit", "verify"])

    assert result.exit_code == 0, result.output
    assert "intact: 3 segments, 9 entries (1 not sealed yet)" in result.output


async def test_sealing_takes_nothing_twice_and_nothing_when_idle(trail: Database) -> None:
    await write(trail, 2)
    await settled(trail)
    first = await gateway(["audit", "seal"])
    again = await gateway(["audit", "seal"])

    assert "sealed segment 1: 2 entries" in first.output
    assert again.output.strip() == "nothing to seal"


async def test_a_deleted_entry_breaks_the_chain_at_the_entry_after_it(trail: Database) -> None:
    await three_segments(trail)
    order = await sealed_order(trail, 2)
    async with trail.transaction() as session:
        await session.execute(delete(AuditEvent).where(AuditEvent.id == order[1]))

    report = await verified()

    assert report["first_break"] == {
        "segment": 2,
        "entry_id": str(order[2]),
        "reason": "this entry was changed, or one before it deleted, moved or added",
    }


async def test_a_deleted_last_entry_is_found_by_the_count(trail: Database) -> None:
    await three_segments(trail)
    order = await sealed_order(trail, 1)
    async with trail.transaction() as session:
        await session.execute(delete(AuditEvent).where(AuditEvent.id == order[-1]))

    report = await verified()

    assert report["first_break"] == {
        "segment": 1,
        "entry_id": None,
        "reason": "holds 2 entries, sealed with 3",
    }


async def test_an_edited_entry_is_named(trail: Database) -> None:
    await three_segments(trail)
    order = await sealed_order(trail, 3)
    async with trail.transaction() as session:
        await session.execute(
            update(AuditEvent).where(AuditEvent.id == order[0]).values(actor="client:innocent")
        )

    report = await verified()

    assert report["intact"] is False
    assert report["first_break"] == {
        "segment": 3,
        "entry_id": str(order[0]),
        "reason": "this entry was changed, or one before it deleted, moved or added",
    }
    human = await gateway(["audit", "verify"])
    assert human.exit_code == 1
    assert f"broken at segment 3, entry {order[0]}" in human.output


async def test_reordered_entries_are_found(trail: Database) -> None:
    await three_segments(trail)
    order = await sealed_order(trail, 2)
    async with trail.transaction() as session:
        first, second = (
            await session.scalars(select(AuditEvent).where(AuditEvent.id.in_(order[:2])))
        ).all()
        first.occurred_at, second.occurred_at = (
            second.occurred_at + timedelta(seconds=1),
            first.occurred_at - timedelta(seconds=1),
        )

    report = await verified()

    assert report["intact"] is False
    assert report["first_break"]["segment"] == 2  # type: ignore[index]


async def test_an_entry_slipped_into_a_sealed_segment_is_found(trail: Database) -> None:
    await three_segments(trail)
    [forged] = await write(trail, 1, actor="client:forger")
    async with trail.transaction() as session:
        await session.execute(update(AuditEvent).where(AuditEvent.id == forged).values(segment=1))

    report = await verified()

    assert report["first_break"]["segment"] == 1  # type: ignore[index]


async def test_a_deleted_segment_is_found(trail: Database) -> None:
    await three_segments(trail)
    async with trail.transaction() as session:
        await session.execute(delete(AuditEvent).where(AuditEvent.segment == 2))
        await session.execute(delete(AuditSegment).where(AuditSegment.seq == 2))

    report = await verified()

    assert report["first_break"] == {
        "segment": 2,
        "entry_id": None,
        "reason": "segment 2 is missing (the next one is 3)",
    }


async def test_retention_prunes_whole_segments_and_the_rest_still_verifies(
    trail: Database, stack: Stack
) -> None:
    long_ago = utcnow() - timedelta(days=400)
    await write(trail, 3, at=long_ago)
    await seal(trail)
    await write(trail, 2, at=long_ago)
    await seal(trail)
    await write(trail, 2)
    await seal(trail)
    settings: Settings = stack.settings

    pruned = await retention.prune(trail, settings)

    assert pruned is not None and pruned.audit_events == 5
    report = await verified()
    assert report == {
        "intact": True,
        "segments": 1,
        "entries": 2,
        "unsealed": 0,
        "first_break": None,
    }
    # The chain goes on from what is left.
    await write(trail, 1)
    segment = await seal(trail)
    assert segment.seq == 4
    assert (await verified())["segments"] == 2


async def test_retention_keeps_a_segment_holding_any_recent_entry(
    trail: Database, stack: Stack
) -> None:
    await write(trail, 2, at=utcnow() - timedelta(days=400))
    await write(trail, 1)
    await seal(trail)  # one segment: two old entries and a new one
    await write(trail, 1, at=utcnow() - timedelta(days=400))  # old, never sealed

    pruned = await retention.prune(trail, stack.settings)

    assert pruned is not None and pruned.audit_events == 0
    assert (await verified())["entries"] == 3


async def test_a_chain_rewritten_whole_is_found_against_the_streamed_anchors(
    trail: Database, tmp_path: Path
) -> None:
    path = tmp_path / "audit.jsonl"
    await three_segments(trail)
    await stream.stream(trail, JsonLines(str(path)))
    # The forger edits an entry and recomputes every link and anchor from there on.
    order = await sealed_order(trail, 2)
    async with trail.transaction() as session:
        await session.execute(
            update(AuditEvent).where(AuditEvent.id == order[0]).values(actor="client:innocent")
        )
    async with trail.transaction() as session:
        previous = (await session.get(AuditSegment, 1)).anchor  # type: ignore[union-attr]
        for seq in (2, 3):
            segment = await session.get(AuditSegment, seq)
            assert segment is not None
            current = previous
            for entry_id in await sealed_order(trail, seq):
                event = await session.get(AuditEvent, entry_id)
                assert event is not None
                current = event.chain_hash = chain.link(current, event)
            segment.previous = previous
            segment.anchor = previous = chain.anchor_of(
                seq, segment.entries, segment.previous, current
            )
    assert (await verified())["intact"] is True  # the database alone cannot tell

    result = await gateway(["audit", "verify", "--json", "--anchors", str(path)])

    assert result.exit_code == 1, result.output
    assert json.loads(result.output)["first_break"] == {
        "segment": 2,
        "entry_id": None,
        "reason": "its anchor differs from the one the stream published",
    }
