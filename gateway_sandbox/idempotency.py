"""``Idempotency-Key`` on the partner API's mutating calls.

A POST, PUT, PATCH or DELETE under ``/v1/partner/`` with the header runs once; for 24 hours a repeat
gets the stored response again, with ``Idempotent-Replayed: true``. A repeat while the first is
still running is 409 with ``Retry-After``. The header is ignored on GET/HEAD and multipart uploads.
A key is at most 255 printable ASCII characters (else 400 ``invalid_request``).

Choices where Contio says nothing:

- Keys are scoped per user on the user API (so a retry after a token refresh still matches) and
  per partner app on the admin API. A request whose caller cannot be identified (a bad token or
  key) is passed on without idempotency and fails authentication as usual.
- A key reused with a different method, path or body is 422 ``idempotency_key_reused``; the
  in-flight refusal is 409 ``idempotency_key_in_use`` with ``Retry-After: 1``.
- Only answers below 500 are stored, except 401: after a 5xx or an authentication failure the same
  key executes again.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway_sandbox.errors import ApiError, api_error_response
from gateway_sandbox.faults import MUTATING
from gateway_sandbox.stats import Counters

TTL = 24 * 3600.0
MAX_KEY_LENGTH = 255
HEADER = "idempotency-key"
REPLAYED = (b"idempotent-replayed", b"true")


@dataclass
class Stored:
    fingerprint: str
    created_at: float
    status: int | None = None  # None while the first request runs
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""


class Outcome(Enum):
    EXECUTE = "execute"
    REPLAY = "replay"
    IN_FLIGHT = "in_flight"
    REUSED = "reused"


class IdempotencyKeys:
    """Keys seen in the last 24 hours and what they answered; thread-safe."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], Stored] = {}

    def begin(self, owner: str, key: str, fingerprint: str) -> tuple[Outcome, Stored | None]:
        now = self._clock()
        with self._lock:
            entry = self._entries.get((owner, key))
            if entry is None or now >= entry.created_at + TTL:
                self._entries[(owner, key)] = Stored(fingerprint, now)
                return Outcome.EXECUTE, None
            if not hmac.compare_digest(entry.fingerprint, fingerprint):
                return Outcome.REUSED, None
            if entry.status is None:
                return Outcome.IN_FLIGHT, None
            return Outcome.REPLAY, entry

    def finish(
        self, owner: str, key: str, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        with self._lock:
            entry = self._entries.get((owner, key))
            if entry is None:
                return
            if status >= 500 or status == 401:
                del self._entries[(owner, key)]
            else:
                entry.status, entry.headers, entry.body = status, headers, body

    def in_flight(self) -> int:
        """How many keyed requests are running now (for tests to wait on)."""
        with self._lock:
            return sum(entry.status is None for entry in self._entries.values())

    def abandon(self, owner: str, key: str) -> None:
        with self._lock:
            self._entries.pop((owner, key), None)


Identify = Callable[[str, Headers], str | None]


class IdempotencyMiddleware:
    """``identify(path, headers)`` names the key's owner, or ``None`` to pass the request on."""

    def __init__(
        self, app: ASGIApp, keys: IdempotencyKeys, identify: Identify, counters: Counters
    ) -> None:
        self.app = app
        self.keys = keys
        self.identify = identify
        self.counters = counters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope) if scope["type"] == "http" else None
        if headers is None or not self._applies(scope, headers):
            await self.app(scope, receive, send)
            return
        key = headers[HEADER]
        if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in key):
            message = f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters."
            await self._refuse(scope, receive, send, ApiError(400, "invalid_request", message))
            return
        owner = self.identify(scope["path"], headers)
        if owner is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        fingerprint = _fingerprint(scope, body)
        outcome, stored = self.keys.begin(owner, key, fingerprint)
        if outcome is Outcome.REUSED:
            message = "This Idempotency-Key was used with a different request."
            await self._refuse(
                scope, receive, send, ApiError(422, "idempotency_key_reused", message)
            )
        elif outcome is Outcome.IN_FLIGHT:
            message = "A request with this Idempotency-Key is still being processed."
            error = ApiError(409, "idempotency_key_in_use", message, {"Retry-After": "1"})
            await self._refuse(scope, receive, send, error)
        elif outcome is Outcome.REPLAY:
            assert stored is not None and stored.status is not None
            self.counters.add("idempotent_replays")
            headers_out = [*stored.headers, REPLAYED]
            await send(
                {"type": "http.response.start", "status": stored.status, "headers": headers_out}
            )
            await send({"type": "http.response.body", "body": stored.body})
        else:
            await self._execute(scope, receive, send, (owner, key), body)

    def _applies(self, scope: Scope, headers: Headers) -> bool:
        return (
            scope["method"] in MUTATING
            and scope["path"].startswith("/v1/partner/")
            and HEADER in headers
            and not headers.get("content-type", "").startswith("multipart/")
        )

    async def _execute(
        self, scope: Scope, receive: Receive, send: Send, entry: tuple[str, str], body: bytes
    ) -> None:
        status: int = 500
        response_headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        body_read = False

        async def replay_body() -> Message:  # the body was read already; hand it over once
            nonlocal body_read
            if body_read:
                return await receive()
            body_read = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status, response_headers = message["status"], list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        except BaseException:
            self.keys.abandon(*entry)
            raise
        self.keys.finish(*entry, status, response_headers, b"".join(chunks))

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, error: ApiError) -> None:
        await api_error_response(scope, error)(scope, receive, send)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _fingerprint(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (
        scope["method"].encode(),
        scope["path"].encode(),
        scope.get("query_string", b""),
        body,
    ):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()
