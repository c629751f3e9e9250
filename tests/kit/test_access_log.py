"""The access log: written straight to the JSON handler when that is where it goes anyway, as a
record otherwise; either way the same line, with secrets in the query string redacted."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.kit import logs
from gateway.kit.access_log import access_log, log_access, log_accesses
from tests.fixtures.access_log import Stdout, json_only


@pytest.fixture
def json_stdout() -> Stdout:
    """stdout, for the JSON handler ``json_only`` makes the access log's only one."""
    return Stdout()


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


def test_the_direct_line_is_the_line_a_record_would_make(json_stdout: Stdout) -> None:
    with json_only(json_stdout) as handler:
        assert logs.sole_json_handler(access_log, logging.INFO) is handler  # no record made
        log_access("req-1", "GET", "/connect", b"user=u1&code=s3cret", 302, 0.00125)
    [written] = json_stdout.getvalue().splitlines()
    line = json.loads(written)
    expected = record_line("req-1", "/connect?user=u1&code=***", 302)
    assert "s3cret" not in written
    assert {k: v for k, v in line.items() if k != "time"} == {
        k: v for k, v in expected.items() if k != "time"
    }
    assert datetime.fromisoformat(line["time"]).tzinfo is not None


def test_with_another_handler_it_is_a_record(json_stdout: Stdout) -> None:
    other = io.StringIO()
    with json_only(json_stdout):
        access_log.addHandler(logging.StreamHandler(other))
        log_access("req-2", "GET", "/healthz", b"", 200, 0.001)
    assert other.getvalue() == 'req-2 "GET /healthz" 200 1.0ms\n'
    assert json.loads(json_stdout.getvalue())["request_id"] == "req-2"  # the handler has it too


def test_nothing_is_written_below_the_level(json_stdout: Stdout) -> None:
    with json_only(json_stdout):
        access_log.setLevel(logging.WARNING)
        log_access("req-3", "GET", "/healthz", b"", 200, 0.001)
    assert json_stdout.getvalue() == ""


def test_a_batch_is_one_write_and_one_flush(json_stdout: Stdout) -> None:
    entries = [
        (1_700_000_000.0 + n, f"req-{n}", "GET", "/proxy/users/u1/meetings", b"", 200, 0.002)
        for n in range(3)
    ]
    with json_only(json_stdout):
        log_accesses(entries)
    lines = [json.loads(line) for line in json_stdout.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == ["req-0", "req-1", "req-2"]
    assert [line["time"] for line in lines] == [logs.timestamp(entry[0]) for entry in entries]
    assert json_stdout.flushes == 1


def test_as_records_they_keep_the_time_they_were_answered(json_stdout: Stdout) -> None:
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    with json_only(json_stdout):
        access_log.addHandler(Keep())
        log_accesses([(1_700_000_000.25, "req-1", "GET", "/healthz", b"", 200, 0.001)])
    [record] = seen
    assert record.created == 1_700_000_000.25
    assert record.msecs == 250.0
    assert record.getMessage() == 'req-1 "GET /healthz" 200 1.0ms'


def test_a_broken_stdout_is_reported_not_raised(
    json_stdout: Stdout, capsys: pytest.CaptureFixture[str]
) -> None:
    json_stdout.close()
    with json_only(json_stdout):
        log_access("req-1", "GET", "/healthz", b"", 200, 0.001)
    assert "Logging error" in capsys.readouterr().err


@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_timestamps_are_formatted_as_datetime_formats_them(created: float) -> None:
    expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    assert logs.timestamp(created) == expected
