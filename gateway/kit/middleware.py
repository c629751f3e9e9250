"""The concerns every request meets, and the pure-ASGI middleware that does the request's own.

``Concern`` declares one cross-cutting concern once, for both ways a request can take through the
app: Starlette's middleware stack, and the proxy's front door (``gateway.proxy.front``), which
answers proxied calls ahead of the stack. ``create_app`` lists them in the order every request meets
them.

The request's own concerns are done by one implementation on both ways: its id (``accepted_request_id``,
returned as ``X-Request-Id``), and its ``RequestRecord`` (method, path, status, time), handed when
answered to a ``RecordBatch`` that counts it in the request metrics and writes its access-log line.
``RequestContext`` does this for the app's routes; the front door makes the same record itself.

A batch is done ``FLUSH_SECONDS`` after its first record, or at once when ``MAX_PENDING`` wait, or
when a request of the app's routes ends (``RequestContext``: those are written as they end). A
metrics scrape does what is pending first (``before_collect``), so it never misses a request
answered before it, and so does the end of the lifespan, so no line is lost on shutdown; each line
keeps the time its request was answered. Why batches: ``docs/performance.md``.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.kit import logs, origin
from gateway.kit.access_log import log_accesses

REQUEST_ID_HEADER = b"x-request-id"
VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
UNMATCHED = "unmatched"
FLUSH_SECONDS = 0.01
MAX_PENDING = 128

RawHeaders = list[tuple[bytes, bytes]]
# What a passive record reads of a scope.
_NO_SCOPE: Scope = {"method": "", "path": "", "query_string": b""}


@dataclass(frozen=True)
class Concern:
    """One cross-cutting concern: ``middleware`` on the ordinary way; on the front door's way,
    ``steps_aside`` when the ordinary way would answer differently (the front door then leaves the
    request to it), or None when the front door runs the same implementation itself. A new concern
    is added to ``create_app``'s list and says which of the two it is."""

    name: str
    middleware: Middleware
    steps_aside: Callable[[Scope], bool] | None


class RequestCounts(Protocol):
    """Where a batch's records are counted (``gateway.metrics.requests.RequestStats``)."""

    def before_collect(self, catch_up: Callable[[], None]) -> None: ...

    def observe_all(self, requests: Iterable[tuple[str, str, int, float]]) -> None: ...


def accepted_request_id(incoming: bytes | None) -> str:
    """The caller's ``X-Request-Id`` when it is sane, else a new one: 128 random bits in hex. They
    only tell requests apart, they guard nothing, so the fast generator serves (the system's
    random source is a system call per request)."""
    if incoming is not None and VALID_REQUEST_ID.match(incoming):
        return incoming.decode("ascii")
    return f"{random.getrandbits(128):032x}"


def route_of(scope: Scope) -> str:
    """The route template the router matched (``UNMATCHED`` if none): never the path, so no user
    id or query string becomes a metrics label or a span attribute."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNMATCHED


class RequestRecord:
    """One request's bookkeeping: its id, its status and how long it took.

    An answer made by code that knows the record adds ``headers`` to its start and calls ``finish``
    just before its last byte; any other goes through ``wrap``. ``finish`` hands the record to the
    batch, once (a request that broke before answering counts as 500). A record without a batch
    (``passive``) does nothing: the way the request came does its bookkeeping."""

    __slots__ = (
        "_batch",
        "_scope",
        "_started",
        "ended",
        "headers",
        "method",
        "path",
        "query",
        "request_id",
        "route",
        "seconds",
        "status",
    )

    def __init__(
        self, request_id: str, scope: Scope, route: str, batch: RecordBatch | None
    ) -> None:
        self._started = time.perf_counter()
        self._scope = scope
        self._batch = batch
        self.request_id = request_id
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.query: bytes = scope["query_string"]
        self.route = route  # "": the route the router matches, read when answered
        # What the answer carries besides its own headers.
        self.headers: RawHeaders = (
            [(REQUEST_ID_HEADER, request_id.encode("ascii"))] if batch is not None else []
        )
        self.status = 0  # set when the answer starts
        self.seconds = 0.0  # how long it took, once answered
        self.ended = 0.0  # the wall-clock time it was answered

    @classmethod
    def passive(cls, request_id: str) -> RequestRecord:
        return cls(request_id, _NO_SCOPE, UNMATCHED, None)

    def finish(self) -> None:
        batch = self._batch
        if batch is None:
            return
        self._batch = None
        self.seconds = time.perf_counter() - self._started
        self.ended = time.time()
        self.status = self.status or 500
        if not self.route:
            self.route = route_of(self._scope)
        batch.add(self)

    def wrap(self, send: Send) -> Send:
        """``send`` for an answer made elsewhere: the same bookkeeping, its ``X-Request-Id``
        replacing any the answer set."""

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                message["headers"] = [
                    *(item for item in message["headers"] if item[0] != REQUEST_ID_HEADER),
                    *self.headers,
                ]
            elif not message.get("more_body"):
                self.finish()
            await send(message)

        return sending


class RecordBatch:
    """One per app, shared by both ways; used on the event loop's thread only."""

    def __init__(self, counts: RequestCounts, redacted: frozenset[str] = frozenset()) -> None:
        """``redacted``: query parameters (lower case) whose values the access log masks."""
        self._counts = counts
        self._redacted = redacted
        self._pending: list[RequestRecord] = []
        counts.before_collect(self.flush)

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, record: RequestRecord) -> None:
        pending = self._pending
        if not pending:
            asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)
        pending.append(record)
        if len(pending) >= MAX_PENDING:
            self.flush()

    def flush(self) -> None:
        """Count and log every record waiting (a timer left over from a batch already done finds
        the next one, or nothing)."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        self._counts.observe_all([(r.route, r.method, r.status, r.seconds) for r in pending])
        log_accesses(
            [
                (r.ended, r.request_id, r.method, r.path, r.query, r.status, r.seconds)
                for r in pending
            ],
            self._redacted,
        )


class RequestContext:
    """The request's own concerns for the app's routes: accepts a sane ``X-Request-Id`` or makes
    one (``scope["state"]["request_id"]``, and the log context), binds the request's origin
    (``gateway.kit.origin``, for the audit trail), returns the id, and records the
    request in ``batch``, which it flushes as the request ends: only the proxy's front door leaves
    its records to be done in batches."""

    def __init__(self, app: ASGIApp, batch: RecordBatch) -> None:
        self.app = app
        self.batch = batch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accepted_request_id(dict(scope["headers"]).get(REQUEST_ID_HEADER))
        scope.setdefault("state", {})["request_id"] = request_id
        record = RequestRecord(request_id, scope, "", self.batch)
        bound = logs.request_id.set(request_id)
        bound_origin = origin.current.set(origin.origin_of(scope))
        try:
            await self.app(scope, receive, record.wrap(send))
        finally:
            record.finish()
            self.batch.flush()  # an app route's line is written once it is answered
            origin.current.reset(bound_origin)
            logs.request_id.reset(bound)
