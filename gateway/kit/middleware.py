"""Pure-ASGI middleware: request ids and the access log (with secrets in query strings redacted)."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.kit import logs
from gateway.kit.redact import redact_query

access_log = logging.getLogger("gateway.access")

REQUEST_ID_HEADER = "x-request-id"
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContext:
    """Accepts a sane ``X-Request-Id`` or makes one, returns it, and writes one access-log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = incoming if VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        bound = logs.request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            query = redact_query(scope.get("query_string", b"").decode("latin-1"))
            access_log.info(
                '%s "%s %s%s" %s %.1fms',
                request_id,
                scope["method"],
                scope["path"],
                f"?{query}" if query else "",
                status,
                (time.perf_counter() - started) * 1000,
                extra={"request_id": request_id, "status": status},
            )
            logs.request_id.reset(bound)
