"""Pure-ASGI middleware: every response carries an ``X-Request-Id``, also put in the scope state;
the ``latency_ms`` fault delays the token endpoint and the user API; mutating requests that reach
an endpoint are counted, with the ``traceparent`` they carry (``stats``)."""

from __future__ import annotations

import asyncio
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway_sandbox.faults import MUTATING, FaultSwitch
from gateway_sandbox.stats import Counters

DELAYED = ("/oauth2/token", "/v1/partner/user/")
CONTROL = "/_sandbox/"


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


class LatencyMiddleware:
    def __init__(self, app: ASGIApp, faults: FaultSwitch) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(DELAYED):
            latency_ms = self.faults.current().latency_ms
            if latency_ms:
                await asyncio.sleep(latency_ms / 1000)  # the provider's emulated slowness
        await self.app(scope, receive, send)


class ExecutionMiddleware:
    """Innermost: what gets here is executed, so this is where executions are counted."""

    def __init__(self, app: ASGIApp, counters: Counters) -> None:
        self.app = app
        self.counters = counters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in MUTATING
            and not scope["path"].startswith(CONTROL)
        ):
            self.counters.executed(scope["method"], scope["path"])
            for name, value in scope["headers"]:
                if name == b"traceparent":
                    self.counters.traced(value.decode("latin-1"))
        await self.app(scope, receive, send)
