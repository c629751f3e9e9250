"""A provider's API stand-in on loopback: it says what it received, or misbehaves as a test plans.

Mounted under ``BASE`` (Contio's user API base, where the gateway puts it), it answers:

- ``echo/...``: 200 with what it received (method, raw path, query, headers, body length and
  SHA-256; the body is hashed as it streams in, never kept);
- ``download/{n}``: ``n`` bytes, streamed (``?chunked`` leaves out Content-Length);
- ``flaky/...``: the statuses planned for that path first (``plan``), then as ``echo``;
- ``guarded/...``: 401 for a token in ``rejected_tokens``, else as ``echo``;
- ``redirect``: 302 to ``stolen`` (which no one should ever ask for);
- ``hop``: a response full of headers that must not reach the caller;
- ``slow?seconds=S``: waits, then as ``echo``;
- ``drop``: announces a body, then closes the connection without it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.types import Message, Receive, Scope, Send

CHUNK = 64 * 1024
BASE = "/v1/partner/user"


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body_length: int
    body_sha256: str
    body_chunks: int

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name.lower()]
        return values[0] if values else None

    def json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body_length": self.body_length,
            "body_sha256": self.body_sha256,
            "body_chunks": self.body_chunks,
        }


class EchoUpstream:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: list[Seen] = []
        self._plans: dict[str, list[int]] = {}
        self.rejected_tokens: set[str] = set()

    def plan(self, path: str, statuses: Sequence[int]) -> None:
        """Answer the next requests to ``path`` (below BASE) with these statuses, in order."""
        with self._lock:
            self._plans[path] = list(statuses)

    def seen(self, path: str) -> list[Seen]:
        """Requests received for ``path`` (below BASE)."""
        with self._lock:
            return [s for s in self._seen if s.path == BASE + path]

    def _next_planned(self, path: str) -> int | None:
        with self._lock:
            planned = self._plans.get(path)
            return planned.pop(0) if planned else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        seen = await _take(scope, receive)
        with self._lock:
            self._seen.append(seen)
        path = seen.path.removeprefix(BASE)
        query = dict(part.partition("=")[::2] for part in seen.query.split("&") if part)
        if path.startswith("/download/"):
            await _download(send, int(path.rsplit("/", 1)[1]), "chunked" in query)
        elif path.startswith("/flaky/") and (status := self._next_planned(path)) is not None:
            extra = (
                [(b"retry-after", query["retry_after"].encode())] if "retry_after" in query else []
            )
            await _json(send, status, {"code": "planned", "status": status}, extra)
        elif path.startswith("/guarded/") and _token(seen) in self.rejected_tokens:
            await _json(send, 401, {"code": "unauthorized"}, [(b"www-authenticate", b"Bearer")])
        elif path == "/redirect":
            await _json(send, 302, {}, [(b"location", f"{BASE}/stolen".encode())])
        elif path == "/hop":
            await _json(send, 200, {"ok": True}, HOP_HEADERS)
        elif path == "/drop":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", b"100"),
                    ],
                }
            )
        else:
            if path.startswith("/slow"):
                await asyncio.sleep(float(query.get("seconds", "1")))
            await _json(send, 200, seen.json())


HOP_HEADERS = [
    (b"connection", b"x-private-hop"),
    (b"x-private-hop", b"1"),
    (b"keep-alive", b"timeout=5"),
    (b"proxy-authenticate", b"Basic"),
    (b"upgrade", b"h2c"),
    (b"trailer", b"x-checksum"),
    (b"set-cookie", b"session=abc"),
    (b"gateway-error", b"1"),
    (b"x-provider-header", b"kept"),
]


def _token(seen: Seen) -> str:
    return (seen.header("authorization") or "").removeprefix("Bearer ")


async def _take(scope: Scope, receive: Receive) -> Seen:
    digest = hashlib.sha256()
    length = chunks = 0
    while True:
        message: Message = await receive()
        body = message.get("body", b"")
        if body:
            digest.update(body)
            length += len(body)
            chunks += 1
        if not message.get("more_body", False):
            break
    return Seen(
        method=scope["method"],
        path=scope["raw_path"].decode("latin-1"),
        query=scope["query_string"].decode("latin-1"),
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
        body_length=length,
        body_sha256=digest.hexdigest(),
        body_chunks=chunks,
    )


async def _json(
    send: Send, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": data})


async def _download(send: Send, size: int, chunked: bool) -> None:
    headers = [(b"content-type", b"application/octet-stream")]
    if not chunked:
        headers.append((b"content-length", str(size).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    block = b"x" * CHUNK
    left = size
    while left > 0:
        piece = block if left >= CHUNK else block[:left]
        left -= len(piece)
        await send({"type": "http.response.body", "body": piece, "more_body": left > 0})
    if size == 0:
        await send({"type": "http.response.body", "body": b""})
