"""The bookkeeping of one proxied call: its request id, its status, and its count and access-log
line once it is answered.

The proxy's own answers (``relay``) carry ``headers`` and call ``finish`` themselves, just before
their last byte; the gateway's error answers are Starlette responses and go through ``wrap``.
``finish`` hands the call to the front door's ``Ledger``, which counts and logs calls in batches. A
call that takes the ordinary way through Starlette's routing is ``Served.ordinary``:
``RequestContext`` does all of this for it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from starlette.types import Message, Send

from gateway.kit.middleware import REQUEST_ID_HEADER
from gateway.proxy.headers import RawHeaders

if TYPE_CHECKING:
    from gateway.proxy.ledger import Ledger


class Served:
    __slots__ = (
        "_ledger",
        "_started",
        "ended",
        "headers",
        "method",
        "path",
        "query",
        "request_id",
        "seconds",
        "status",
    )

    def __init__(
        self, request_id: str, method: str, path: str, query: bytes, ledger: Ledger | None
    ) -> None:
        self._started = time.perf_counter()
        self.method = method
        self.path = path
        self.query = query
        self._ledger = ledger
        self.request_id = request_id
        # What the answer carries besides the provider's headers.
        self.headers: RawHeaders = (
            [(REQUEST_ID_HEADER, request_id.encode("ascii"))] if ledger is not None else []
        )
        self.status = 0  # set when the answer starts
        self.seconds = 0.0  # how long it took, once answered
        self.ended = 0.0  # the wall-clock time it was answered

    @classmethod
    def ordinary(cls, request_id: str) -> Served:
        return cls(request_id, "", "", b"", None)

    def finish(self) -> None:
        """Hand the call to the ledger, once (a call that broke before answering counts as 500)."""
        ledger = self._ledger
        if ledger is None:
            return
        self._ledger = None
        self.seconds = time.perf_counter() - self._started
        self.ended = time.time()
        self.status = self.status or 500
        ledger.add(self)

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
