"""The access log: one line per request on ``gateway.access``, its query string's secrets redacted.

Written for every request by ``gateway.kit.middleware.RecordBatch``, in batches. As configured by
``logs.configure("json")`` the lines are written straight to the JSON handler, together, without a
log record each (``docs/performance.md``); anywhere else (text format, a test's capture, handlers
added by an embedding program) each is an ordinary record, with the time the request was answered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from gateway.kit import logs
from gateway.kit.redact import redact_query

access_log = logging.getLogger("gateway.access")
LEVEL = logging.INFO
_JSON_LINE = logs.JsonLine(logging.getLevelName(LEVEL), access_log.name)

# When it was answered (``time.time``), request id, method, path, query string, status, seconds.
AccessEntry = tuple[float, str, str, str, bytes, int, float]


def log_access(
    request_id: str, method: str, path: str, query: bytes, status: int, seconds: float
) -> None:
    """The line for a request answered just now."""
    log_accesses([(time.time(), request_id, method, path, query, status, seconds)])


def log_accesses(entries: Sequence[AccessEntry], redacted: frozenset[str] = frozenset()) -> None:
    """The lines for requests answered, in the order given; the values of the query parameters
    ``redacted`` names (lower case) are masked, besides the ones ``redact`` always masks."""
    if not access_log.isEnabledFor(LEVEL):
        return
    handler = logs.sole_json_handler(access_log, LEVEL)
    if handler is None:
        for entry in entries:
            _log_record(entry, redacted)
        return
    line = _JSON_LINE.line
    handler.write_lines(
        [line(entry[0], _message(entry, redacted), entry[1], entry[5]) for entry in entries]
    )


def _message(entry: AccessEntry, more: frozenset[str]) -> str:
    _, request_id, method, path, query, status, seconds = entry
    redacted = redact_query(query.decode("latin-1"), more) if query else ""
    target = f"{path}?{redacted}" if redacted else path
    tenths = round(seconds * 10_000)  # milliseconds to one place, formatted as integers
    return f'{request_id} "{method} {target}" {status} {tenths // 10}.{tenths % 10}ms'


def _log_record(entry: AccessEntry, redacted: frozenset[str]) -> None:
    record = access_log.makeRecord(
        access_log.name,
        LEVEL,
        __file__,
        0,
        "%s",
        (_message(entry, redacted),),
        None,
        extra={"request_id": entry[1], "status": entry[5]},
    )
    # The time it was answered, not the time the record is made (a batch's may be later).
    record.created = entry[0]
    record.msecs = int((entry[0] - int(entry[0])) * 1000) + 0.0
    access_log.handle(record)
