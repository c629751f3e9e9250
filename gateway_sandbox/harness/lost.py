"""The ``lose_response`` fault: the request is executed, then its answer never arrives whole.

This is what makes a client's retries matter: the change happened, the caller cannot know it, and
only an ``Idempotency-Key`` keeps the retry from doing it twice. The middleware sits outside the
idempotency layer, so the response it loses has already been stored for replay.

- ``drop``: the status line and headers are sent (``200``, announcing a body) and the connection is
  closed before the body. Clients see a protocol/network error (httpx: ``RemoteProtocolError``).
  ASGI has no way to close a connection before any byte; this is as close as it gets.
- ``502``: a ``bad_gateway`` error in the partner API shape, as a proxy in front would answer.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway_sandbox.errors import ApiError, api_error_response
from gateway_sandbox.faults import FaultSwitch
from gateway_sandbox.stats import Counters


class LostResponseMiddleware:
    def __init__(self, app: ASGIApp, faults: FaultSwitch, counters: Counters) -> None:
        self.app = app
        self.faults = faults
        self.counters = counters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        mode = None
        if scope["type"] == "http":
            mode = self.faults.take_lost_response(scope["method"], scope["path"])
        if mode is None:
            await self.app(scope, receive, send)
            return

        async def swallow(message: Message) -> None:
            return None

        await self.app(scope, receive, swallow)
        self.counters.add("responses_lost")
        if mode == "502":
            error = ApiError(502, "bad_gateway", "The upstream answer was lost.")
            await api_error_response(scope, error)(scope, receive, send)
            return
        headers = [(b"content-type", b"application/json"), (b"content-length", b"64")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        # Returning without the body makes the server close the connection.
