"""uvicorn as the gateway runs it: its httptools protocol with limits on the request head.

uvicorn's HTTP protocols bound neither the size of a request's head nor the time a client may take
to send it: a head of any size is buffered, and a client that dribbles its headers a byte at a time
(or connects and sends nothing) holds its connection and memory for ever. ``HeadLimitedProtocol``
refuses, before the app sees the request:

- a head (request line and headers) larger than ``max_bytes``, or with more than ``max_count``
  headers: ``431`` in the gateway's error shape, and the connection closed;
- a head not complete ``timeout`` seconds after it began (for a new connection: after it was
  accepted): ``408`` and the connection closed, however steadily its bytes were arriving.

When the app answers without reading the whole body (a refusal), uvicorn would read and drop all
of it to keep the connection: here at most ``DRAIN_BYTES`` more are dropped, within the head's time
limit (so the client still reads the answer, where closing at once would reset the connection
under it); past that the connection is closed.

The time limit is kept by one sweep per server rather than an event-loop timer per request
(``docs/performance.md``): a head may so run past its limit by up to a quarter of it (at most
``MAX_SWEEP_SECONDS``).

The body is not this module's: the app caps it (``gateway.kit.request_body``, ``gateway.proxy.forward``).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from gateway.kit.errors import GATEWAY_ERROR_HEADER, GatewayError

MAX_SWEEP_SECONDS = 1.0
# How much of a body the app answered without reading is read and dropped before the connection
# is closed instead.
DRAIN_BYTES = 1024 * 1024


@dataclass(frozen=True)
class HeadLimits:
    """What a request's head may be: ``max_bytes`` in all, ``max_count`` headers, complete within
    ``timeout`` seconds of its first byte."""

    max_bytes: int
    max_count: int
    timeout: float


class _HeadRefused(Exception):
    """Raised inside the parser to stop it once the head has been refused."""


class _Sweep:
    """Closes, every ``interval`` seconds, the connections of one server whose head is late; it
    runs only while the server has connections."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.interval = min(timeout / 4, MAX_SWEEP_SECONDS)
        self.connections: set[Any] | None = None
        self.handle: asyncio.TimerHandle | None = None

    def arm(self, loop: asyncio.AbstractEventLoop, connections: set[Any]) -> None:
        if self.handle is None:
            self.connections = connections
            self.handle = loop.call_later(self.interval, self._run, loop)

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        self.handle = None
        connections = self.connections or set()
        late = time.monotonic() - self.timeout
        for connection in list(connections):
            if isinstance(connection, HeadLimitedProtocol):
                started = connection.head_started
                if started is not None and started <= late:
                    connection.head_timed_out()
        if connections:
            self.arm(loop, connections)


class HeadLimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with ``limits`` on every request's head (see the module)."""

    limits: ClassVar[HeadLimits]
    sweep: ClassVar[_Sweep]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # While a head is being received: when it began (monotonic) and its bytes so far; None
        # between a head's end and the next request's first byte.
        self.head_started: float | None = None
        self._head_bytes: int | None = None
        self._heads_done = 0
        self._refused = False
        # While a body the app did not read is dropped: how many more bytes may be.
        self._drain_left: int | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.head_started = time.monotonic()
        self._head_bytes = 0
        self.sweep.arm(self.loop, self.connections)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._drain_left is not None:
            self._drain_left -= len(data)
            if self._drain_left < 0:
                self._refused = True
                self.transport.close()
                return
        if self._head_bytes is not None:
            self._head_bytes += len(data)
            over = self._head_bytes - self.limits.max_bytes
            if over > 0:
                # Feed no more than the limit allows: the head may end within it.
                heads_before = self._heads_done
                cut = len(data) - over
                super().data_received(data[:cut])
                if self._refused or self.transport.is_closing():
                    return
                if self._heads_done == heads_before:
                    self._refuse(431, "headers_too_large", "The request's headers are too large.")
                    return
                data = data[cut:]
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.head_started is None:
            self.head_started = time.monotonic()
        if self._head_bytes is None:
            self._head_bytes = 0

    def on_headers_complete(self) -> None:
        # Counted once the head is in: the byte limit already bounds what they can hold.
        if len(self.headers) > self.limits.max_count:
            self._refuse(431, "too_many_headers", "The request has too many headers.")
            raise _HeadRefused
        self.head_started = None
        self._head_bytes = None
        self._heads_done += 1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_bytes = 0  # what arrives next is the next request's head
        if self._drain_left is not None:  # drained: the connection may serve another request
            self._drain_left = None
            self.head_started = None

    def on_response_complete(self) -> None:
        if self.cycle.more_body:
            # Answered before the body was read (a refusal): the rest is read and dropped so the
            # client sees the answer (closing now would reset the connection under it), but no
            # more than ``DRAIN_BYTES`` of it, within the head's time limit.
            self._drain_left = DRAIN_BYTES
            self.head_started = time.monotonic()
        super().on_response_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # else the parser stopped because the head was refused
            super().send_400_response(msg)

    def head_timed_out(self) -> None:
        if self._drain_left is not None:
            self._refused = True
            self.transport.close()
            return
        self._refuse(408, "request_timeout", "The request's headers took too long to arrive.")

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Answer ``status`` in the gateway's error shape, unless an earlier request's answer is
        under way on this connection, and close it."""
        self._refused = True
        self.head_started = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(_error(status, code, message, self.server_state.default_headers))
        self.transport.close()


def _error(
    status: int, code: str, message: str, default_headers: list[tuple[bytes, bytes]]
) -> bytes:
    body = json.dumps(GatewayError(message, code=code).body()).encode()
    head = [STATUS_LINE[status]]
    for name, value in default_headers:
        head += [name, b": ", value, b"\r\n"]
    head += [
        b"content-type: application/json\r\n",
        b"content-length: %d\r\n" % len(body),
        GATEWAY_ERROR_HEADER.lower().encode() + b": 1\r\n",
        b"connection: close\r\n\r\n",
        body,
    ]
    return b"".join(head)


def head_limited_protocol(limits: HeadLimits) -> type[HeadLimitedProtocol]:
    """The protocol class for one server, holding its limits and its sweep."""
    return type(
        "HeadLimitedProtocol",
        (HeadLimitedProtocol,),
        {"limits": limits, "sweep": _Sweep(limits.timeout)},
    )


def server_config(app: ASGIApp, limits: HeadLimits, **options: Any) -> uvicorn.Config:
    """uvicorn's ``Config`` for ``app`` with the limited protocol; ``options`` as uvicorn takes
    them (the gateway's own logging: ``log_config=None``; no uvicorn access log)."""
    return uvicorn.Config(
        app,
        http=head_limited_protocol(limits),
        access_log=False,
        log_config=None,
        **options,
    )


class AnnouncingServer(uvicorn.Server):
    """A uvicorn server that calls ``on_started`` once it serves: its lifespan has started and its
    sockets are listening (``gateway.kit.prefork``'s readiness)."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_started()
