"""Pure-ASGI middleware: request ids and the access log (with secrets in query strings redacted)."""

from __future__ import annotations

import random
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.kit import logs
from gateway.kit.access_log import log_access

REQUEST_ID_HEADER = b"x-request-id"
VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


def accepted_request_id(incoming: bytes | None) -> str:
    """The caller's ``X-Request-Id`` when it is sane, else a new one: 128 random bits in hex. They
    only tell requests apart, they guard nothing, so the fast generator serves (the system's
    random source is a system call per request)."""
    if incoming is not None and VALID_REQUEST_ID.match(incoming):
        return incoming.decode("ascii")
    return f"{random.getrandbits(128):032x}"


def with_request_id(message: Message, request_id: bytes) -> None:
    """Add ``X-Request-Id`` to a response start (replacing any the app set)."""
    headers = [(name, value) for name, value in message["headers"] if name != REQUEST_ID_HEADER]
    headers.append((REQUEST_ID_HEADER, request_id))
    message["headers"] = headers


class RequestContext:
    """Accepts a sane ``X-Request-Id`` or makes one, returns it, and writes one access-log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accepted_request_id(dict(scope["headers"]).get(REQUEST_ID_HEADER))
        scope.setdefault("state", {})["request_id"] = request_id
        encoded = request_id.encode("ascii")
        started = time.perf_counter()
        status = 500
        bound = logs.request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                with_request_id(message, encoded)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log_access(
                request_id,
                scope["method"],
                scope["path"],
                scope.get("query_string", b""),
                status,
                time.perf_counter() - started,
            )
            logs.request_id.reset(bound)
