"""Process-wide logging set-up, done once by the command that starts.

``json`` (the default for services) writes one JSON object a line to stdout, with the request id of
the request being served and any ``connection_id`` or ``provider`` passed in ``extra``; ``text`` is
for people at a terminal. Messages never carry tokens: the code that logs never passes one, and the
access log redacts secrets in query strings.
"""

from __future__ import annotations

import contextvars
import json
import logging
import math
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

FORMATS = ("json", "text")
# Attributes a caller may add with ``extra=`` that are worth keeping in the JSON line.
CONTEXT_FIELDS = ("connection_id", "provider", "user_id", "client", "status", "event_id")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = getattr(record, "request_id", None) or request_id.get()
        if current:
            line["request_id"] = current
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                line[field] = str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


_second: tuple[float, str] = (math.nan, "")  # the last whole second formatted, and its text
# A timestamp's end for each millisecond: looked up on every access-log line, not formatted.
_MILLISECONDS = tuple(f".{milli:03d}+00:00" for milli in range(1000))


def timestamp(created: float) -> str:
    """A record's time as ``JsonFormatter`` writes it: ISO 8601 in UTC, to the millisecond.

    Rounded as ``datetime.fromtimestamp`` rounds (to the microsecond, half to even) and then cut
    to the millisecond as ``isoformat`` cuts; the date and time of day are formatted once a second.
    """
    global _second
    whole = created // 1  # (the time is never negative: floor is the integral part)
    micro = round((created - whole) * 1e6)
    if micro >= 1_000_000:
        whole += 1
        micro -= 1_000_000
    if whole != _second[0]:
        text = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second = (whole, text)
    return _second[1] + _MILLISECONDS[micro // 1000]


class JsonLines(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler ``configure`` installs for ``json``: records formatted by ``JsonFormatter``, and
    lines already formatted (the access log's, a batch at a time) written without a record, in one
    write to stdout and one flush.
    """

    def __init__(self) -> None:
        super().__init__(sys.stdout)
        self.setFormatter(JsonFormatter())

    def write_lines(self, lines: Sequence[str]) -> None:
        if not lines:
            return
        try:
            with self.lock:  # type: ignore[union-attr]
                self.stream.write("\n".join(lines) + "\n")
            self.flush()
        except RecursionError:
            raise
        except Exception:  # as ``emit`` does: reported on stderr, never raised to the caller
            self.handleError(logging.makeLogRecord({"msg": f"{len(lines)} lines"}))


def sole_json_handler(logger: logging.Logger, level: int) -> JsonLines | None:
    """The ``JsonLines`` handler, when it is the only one ``logger``'s records at ``level`` reach
    and nothing filters them on the way (as ``configure`` leaves things); ``None`` otherwise (a
    test's capture, a handler added by an embedding program), and then records must be logged."""
    found: JsonLines | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters or current.disabled:
            return None
        for handler in current.handlers:
            if found is not None or type(handler) is not JsonLines or handler.filters:
                return None
            if handler.level > level:
                return None
            found = handler
        if not current.propagate:
            break
        current = current.parent
    return found


# What ``json.dumps(..., ensure_ascii=False)`` writes for a string.
_quote = json.encoder.encode_basestring


class JsonLine:
    """The lines ``JsonFormatter`` writes for records of one level and logger with a request id
    and a status, made without a record (``docs/performance.md``). ``level`` is a level's name: it
    needs no escaping; nor does a status code."""

    __slots__ = ("_middle",)

    def __init__(self, level: str, logger: str) -> None:
        self._middle = f'", "level": "{level}", "logger": {_quote(logger)}, "message": '

    def line(self, created: float, message: str, request_id: str, status: int) -> str:
        return (
            f'{{"time": "{timestamp(created)}{self._middle}{_quote(message)}, '
            f'"request_id": {_quote(request_id)}, "status": "{status}"}}'
        )


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")


def configure(level: str = "INFO", log_format: str = "text") -> None:
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {log_format!r}")
    handler: logging.Handler
    if log_format == "json":
        handler = JsonLines()
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(TextFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    quiet_libraries()


def quiet_libraries() -> None:
    """What ``configure`` keeps out of the gateway's log, whatever its handler."""
    # The gateway writes its own access log (``gateway.kit.access_log``), with secrets redacted.
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs each request's whole URL at INFO, and a provider may take a credential in the
    # query (a stored API key's verification request): only its warnings are kept.
    logging.getLogger("httpx").setLevel(logging.WARNING)
