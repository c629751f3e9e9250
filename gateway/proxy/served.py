"""The bookkeeping of one proxied call: its request id, its status, and the metrics and access-log
line written once it is answered.

The proxy's own answers (``relay``) carry ``headers`` and call ``finish`` themselves, just before
their last byte, so a caller never sees a call it made uncounted; the gateway's error answers are
Starlette responses and go through ``wrap``. A call that takes the ordinary way through Starlette's
routing is ``Served.ordinary``: ``RequestContext`` does all of this for it.
"""

from __future__ import annotations

import time

from starlette.types import Message, Send

from gateway.kit.access import log_access
from gateway.kit.middleware import REQUEST_ID_HEADER
from gateway.metrics.requests import RequestStats
from gateway.proxy.headers import RawHeaders
from gateway.proxy.paths import TEMPLATE


class Served:
    __slots__ = (
        "_method",
        "_path",
        "_query",
        "_requests",
        "_started",
        "headers",
        "request_id",
        "status",
    )

    def __init__(
        self,
        request_id: str,
        method: str,
        path: str,
        query: bytes,
        requests: RequestStats | None,
    ) -> None:
        self._started = time.perf_counter()
        self._method = method
        self._path = path
        self._query = query
        self._requests = requests
        self.request_id = request_id
        # What the answer carries besides the provider's headers.
        self.headers: RawHeaders = (
            [(REQUEST_ID_HEADER, request_id.encode("ascii"))] if requests is not None else []
        )
        self.status = 0  # set when the answer starts

    @classmethod
    def ordinary(cls, request_id: str) -> Served:
        return cls(request_id, "", "", b"", None)

    def finish(self) -> None:
        """Count the call and log it, once (a call that broke before answering counts as 500)."""
        requests = self._requests
        if requests is None:
            return
        self._requests = None
        status = self.status or 500
        elapsed = time.perf_counter() - self._started
        requests.observe(TEMPLATE, self._method, status, elapsed)
        log_access(self.request_id, self._method, self._path, self._query, status, elapsed)

    def wrap(self, send: Send) -> Send:
        """``send`` for an answer made elsewhere (the gateway's errors): the same bookkeeping."""

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                message["headers"] = [*message["headers"], *self.headers]
            elif not message.get("more_body"):
                self.finish()
            await send(message)

        return sending
