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
import sys
from datetime import UTC, datetime
from typing import Any

FORMATS = ("json", "text")
# Attributes a caller may add with ``extra=`` that are worth keeping in the JSON line.
CONTEXT_FIELDS = ("connection_id", "provider", "user_id", "client", "status", "event_id")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
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


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")


def configure(level: str = "INFO", log_format: str = "text") -> None:
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {log_format!r}")
    handler = logging.StreamHandler(sys.stdout if log_format == "json" else sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # Our RequestContext middleware writes the access log, with secrets redacted.
    logging.getLogger("uvicorn.access").disabled = True
