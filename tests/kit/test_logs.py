"""JSON log lines: one object a line, with the request id and the connection id when there is one."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest

from gateway.kit import logs


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("gateway.test-json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_carries_level_logger_message_and_context(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.warning(
        "refresh of %s failed", "c-1", extra={"connection_id": "c-1", "provider": "contio"}
    )
    [line] = lines(stream)
    assert line["level"] == "WARNING"
    assert line["logger"] == "gateway.test-json"
    assert line["message"] == "refresh of c-1 failed"
    assert (line["connection_id"], line["provider"]) == ("c-1", "contio")
    assert line["time"].endswith("+00:00")


def test_the_request_being_served_names_every_line(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    bound = logs.request_id.set("req-42")
    try:
        logger.info("inside")
    finally:
        logs.request_id.reset(bound)
    logger.info("outside")
    inside, outside = lines(stream)
    assert inside["request_id"] == "req-42"
    assert "request_id" not in outside


def test_exceptions_stay_inside_one_json_line(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("failed")
    [line] = lines(stream)
    assert "RuntimeError: boom" in line["exception"]


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="json, text"):
        logs.configure("INFO", "yaml")


def test_httpx_never_logs_a_request_url_which_may_hold_a_credential() -> None:
    program = (
        "import logging; from gateway.kit import logs; logs.configure('INFO', 'text'); "
        "logging.getLogger('httpx').info('HTTP Request: GET https://api.example/me?api_key=k'); "
        "logging.getLogger('gateway.probe').info('still logging')"
    )
    run = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    assert "still logging" in run.stderr and "api_key" not in run.stderr
