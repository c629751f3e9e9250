"""The audit stream: committed entries only, a late commit never skipped, at least once across a
failed write, each segment's anchor after its entries; to a JSON-lines file or OpenTelemetry logs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter

from gateway.audit import chain, store, stream
from gateway.audit.sinks import JsonLines, Line, OtelLogs, SinkFailed, configured_sink
from gateway.kit.db import Database
from gateway.models import AuditSegment
from tests.audit.conftest import seal, settled, write


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def streamed_ids(path: Path) -> list[str]:
    return [line["id"] for line in lines_of(path) if line["type"] == "audit.entry"]


async def test_the_sink_receives_committed_entries_and_never_a_rolled_back_one(
    trail: Database, tmp_path: Path
) -> None:
    sink = JsonLines(str(tmp_path / "audit.jsonl"))
    kept = await write(trail, 2, actor="client:kept")

    class RolledBack(Exception):
        pass

    async def undone() -> None:
        async with trail.transaction() as session:
            store.record(
                session, actor="client:undone", action="client.created", connection_id=None
            )
            await session.flush()
            raise RolledBack

    with pytest.raises(RolledBack):
        await undone()
    later = await write(trail, 1, actor="client:later")
    await settled(trail)

    done = await stream.stream(trail, sink)

    assert done is not None and done.entries == 3
    lines = lines_of(tmp_path / "audit.jsonl")
    assert sorted(line["id"] for line in lines) == sorted(str(i) for i in [*kept, *later])
    assert "client:undone" not in (tmp_path / "audit.jsonl").read_text()
    assert {line["actor"] for line in lines} == {"client:kept", "client:later"}
    assert all(line["source_address"] is None for line in lines)  # not written in a request
    assert (tmp_path / "audit.jsonl").stat().st_mode & 0o777 == 0o600


async def test_an_entry_committed_late_waits_and_is_not_skipped(
    trail: Database, tmp_path: Path
) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonLines(str(path))
    async with trail.sessions() as slow, slow.begin():
        early = store.record(
            slow, actor="client:slow", action="connection.updated", connection_id=None
        )
        await slow.flush()  # its transaction is older than the next one's, and still open
        quick = await write(trail, 1, actor="client:quick")
        await stream.stream(trail, sink)
        assert streamed_ids(path) == []  # nothing newer than an open transaction goes yet
    await settled(trail)

    await stream.stream(trail, sink)

    assert sorted(streamed_ids(path)) == sorted([str(early.id), str(quick[0])])


class Failing:
    def write(self, lines: Sequence[Line]) -> None:
        raise SinkFailed("the disk is full")

    def close(self) -> None:
        pass


async def test_lines_a_sink_failed_to_take_are_sent_again(trail: Database, tmp_path: Path) -> None:
    ids = await write(trail, 3)
    await settled(trail)
    with pytest.raises(SinkFailed):
        await stream.stream(trail, Failing())

    await stream.stream(trail, JsonLines(str(tmp_path / "audit.jsonl")))

    assert sorted(streamed_ids(tmp_path / "audit.jsonl")) == sorted(str(i) for i in ids)


async def test_each_segment_anchor_follows_its_entries_once(
    trail: Database, tmp_path: Path
) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonLines(str(path))
    ids = await write(trail, 2)
    segment = await seal(trail)

    await stream.stream(trail, sink)
    await stream.stream(trail, sink)

    lines = lines_of(path)
    assert [line["type"] for line in lines] == ["audit.entry", "audit.entry", "audit.anchor"]
    assert sorted(line["id"] for line in lines[:2]) == sorted(str(i) for i in ids)
    anchor = lines[2]
    assert anchor["segment"] == segment.seq and anchor["anchor"] == segment.anchor
    assert anchor["entries"] == 2 and anchor["previous"] == chain.GENESIS
    async with trail.transaction() as session:
        stored = await session.get(AuditSegment, segment.seq)
        assert stored is not None and stored.streamed_at is not None


async def test_more_than_a_round_holds_is_streamed_over_several(
    trail: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "BATCH", 2)
    ids = await write(trail, 5)
    await settled(trail)
    sink = JsonLines(str(tmp_path / "audit.jsonl"))

    rounds: list[stream.Round] = []
    while not rounds or rounds[-1].full:
        done = await stream.stream(trail, sink)
        assert done is not None
        rounds.append(done)

    assert [r.entries for r in rounds] == [2, 2, 1]
    assert sorted(streamed_ids(tmp_path / "audit.jsonl")) == sorted(str(i) for i in ids)


async def test_entries_go_to_opentelemetry_logs(trail: Database) -> None:
    exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    sink = OtelLogs("gateway-test", exporter=exporter)
    [entry] = await write(trail, 1, actor="client:otel")
    await settled(trail)

    await stream.stream(trail, sink)

    bodies = [record.log_record.body for record in exporter.get_finished_logs()]
    assert len(bodies) == 1 and isinstance(bodies[0], dict)
    assert bodies[0]["id"] == str(entry) and bodies[0]["actor"] == "client:otel"
    sink.close()


def test_the_sink_is_chosen_by_settings_and_the_otlp_endpoint() -> None:
    assert configured_sink("", "gateway", environ={}) is None
    assert isinstance(configured_sink("stdout", "gateway", environ={}), JsonLines)
    both = configured_sink("stdout", "gateway", environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"})
    assert both is not None and len(both.sinks) == 2  # type: ignore[attr-defined]
    both.close()
