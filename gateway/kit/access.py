"""The access log: one line per request on ``gateway.access``, its query string's secrets redacted.

Written by ``RequestContext`` for the app's routes and by the proxy's front door for its own. As
configured by ``logs.configure("json")`` the line is written straight to the JSON handler (the
logging machinery costs a busy proxy more than all its other bookkeeping); anywhere else (text
format, a test's capture, handlers added by an embedding program) it is an ordinary record.
"""

from __future__ import annotations

import logging

from gateway.kit import logs
from gateway.kit.redact import redact_query

access_log = logging.getLogger("gateway.access")
LEVEL = logging.INFO


def log_access(
    request_id: str, method: str, path: str, query: bytes, status: int, seconds: float
) -> None:
    if not access_log.isEnabledFor(LEVEL):
        return
    redacted = redact_query(query.decode("latin-1")) if query else ""
    target = f"{path}?{redacted}" if redacted else path
    message = f'{request_id} "{method} {target}" {status} {seconds * 1000:.1f}ms'
    handler = logs.sole_json_handler(access_log, LEVEL)
    if handler is None:
        access_log.info("%s", message, extra={"request_id": request_id, "status": status})
        return
    handler.write_line(logs.json_line("INFO", access_log.name, message, request_id, str(status)))
