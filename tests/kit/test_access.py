"""The access log: written straight to the JSON handler when that is where it goes anyway, as a
record otherwise; either way the same line, with secrets in the query string redacted."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.kit import logs
from gateway.kit.access import access_log, log_access


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


@pytest.fixture
def json_stdout() -> Iterator[CountingStream]:
    """The JSON handler as the only place the access log's records go (as ``logs.configure``
    leaves things; attached to the access logger itself here, out of pytest's capture)."""
    stream = CountingStream()
    handler = logs.JsonLines()
    handler.setStream(stream)
    access_log.addHandler(handler)
    access_log.propagate = False
    access_log.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        access_log.removeHandler(handler)
        access_log.propagate = True
        access_log.setLevel(logging.NOTSET)


def record_line(request_id: str, target: str, status: int) -> dict[str, str]:
    """What JsonFormatter writes for the access log's record of such a request."""
    record = access_log.makeRecord(
        access_log.name,
        logging.INFO,
        __file__,
        0,
        '%s "%s %s" %s %.1fms',
        (request_id, "GET", target, status, 1.25),
        None,
        extra={"request_id": request_id, "status": status},
    )
    line: dict[str, str] = json.loads(logs.JsonFormatter().format(record))
    return line


def test_the_direct_line_is_the_line_a_record_would_make(json_stdout: CountingStream) -> None:
    log_access("req-1", "GET", "/connect", b"user=u1&code=s3cret", 302, 0.00125)
    [written] = json_stdout.getvalue().splitlines()
    line = json.loads(written)
    expected = record_line("req-1", "/connect?user=u1&code=***", 302)
    assert "s3cret" not in written
    assert {k: v for k, v in line.items() if k != "time"} == {
        k: v for k, v in expected.items() if k != "time"
    }
    assert datetime.fromisoformat(line["time"]).tzinfo is not None


def test_with_another_handler_it_is_a_record(json_stdout: CountingStream) -> None:
    other = io.StringIO()
    extra = logging.StreamHandler(other)
    access_log.addHandler(extra)
    try:
        log_access("req-2", "GET", "/healthz", b"", 200, 0.001)
    finally:
        access_log.removeHandler(extra)
    assert other.getvalue() == 'req-2 "GET /healthz" 200 1.0ms\n'
    assert json.loads(json_stdout.getvalue())["request_id"] == "req-2"  # the handler has it too


def test_nothing_is_written_below_the_level(json_stdout: CountingStream) -> None:
    access_log.setLevel(logging.WARNING)
    log_access("req-3", "GET", "/healthz", b"", 200, 0.001)
    assert json_stdout.getvalue() == ""


async def test_lines_are_written_together_shortly_after_the_first() -> None:
    flushed = asyncio.Event()

    class Stream(CountingStream):
        def flush(self) -> None:
            super().flush()
            flushed.set()

    stream = Stream()
    handler = logs.JsonLines()
    handler.setStream(stream)
    for n in range(3):
        handler.write_line(f'{{"n": {n}}}')
    await asyncio.sleep(0)  # the loop's next turn: still kept
    assert stream.getvalue() == ""
    async with asyncio.timeout(5):
        await flushed.wait()
    assert stream.flushes == 1
    assert [json.loads(line)["n"] for line in stream.getvalue().splitlines()] == [0, 1, 2]


def test_a_record_never_overtakes_the_lines_before_it() -> None:
    stream = CountingStream()
    handler = logs.JsonLines()
    handler.setStream(stream)
    handler._pending.append('{"n": 0}')  # a line kept while a loop was running
    record = logging.LogRecord("gateway.test", logging.WARNING, __file__, 0, "late", None, None)
    handler.handle(record)
    first, second = stream.getvalue().splitlines()
    assert json.loads(first) == {"n": 0}
    assert json.loads(second)["message"] == "late"


def test_many_lines_are_written_without_waiting() -> None:
    stream = CountingStream()
    handler = logs.JsonLines()
    handler.setStream(stream)
    for n in range(handler.MAX_PENDING):
        handler._pending.append(f'{{"n": {n}}}')  # as kept on a loop
    handler.write_line('{"n": -1}')
    assert len(stream.getvalue().splitlines()) == handler.MAX_PENDING + 1


def test_outside_a_loop_a_line_is_flushed_at_once() -> None:
    stream = CountingStream()
    handler = logs.JsonLines()
    handler.setStream(stream)
    handler.write_line("{}")
    assert stream.flushes == 1


@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_timestamps_are_formatted_as_datetime_formats_them(created: float) -> None:
    expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    assert logs.timestamp(created) == expected
