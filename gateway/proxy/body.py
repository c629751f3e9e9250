"""The caller's request body, as the proxy sends it on.

A body up to the replay limit is read whole and kept, so it can be sent again (a retry, or the retry
after a 401 and a refresh). A larger one, or one of unknown length that outgrows the limit, is
streamed: each chunk goes upstream as it arrives, with the server's flow control in between, so
memory does not grow with the body. A stream can be sent once; as long as not a byte of it was
taken (the connection failed first), it can still be sent elsewhere.

No body is larger than the proxy's cap (``proxy_max_body_bytes``): a ``Content-Length`` above it is
refused before the call is even admitted (``announced_length``), and a chunked body is counted as
it is read or streamed and refused with ``413`` as soon as it passes the cap (``RequestBody.refusal``
then names the reason the exchange broke off).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.types import Receive

from gateway.exceptions import PayloadTooLarge
from gateway.kit.request_body import declared_length
from gateway.proxy.headers import CallerHeaders
from gateway.proxy.upstream import Body


class CallerGone(Exception):
    """Raised into the upstream request when the caller disconnected halfway through its body."""


class RequestBody:
    """Either ``data`` (whole, replayable) or a one-shot stream of ``length`` bytes, if known, of
    no more than ``max_bytes`` (None: as many as the caller sends)."""

    def __init__(
        self,
        data: bytes | None,
        *,
        receive: Receive | None = None,
        head: bytes = b"",
        length: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self._data = data
        self._receive = receive
        self._head = head
        self._max_bytes = max_bytes
        # Why the stream stopped short of the caller's whole body, if it was the body's size.
        self.refusal: PayloadTooLarge | None = None
        self.length = length if data is None else len(data)
        self.streamed = data is None  # else whole, in ``data``
        self.started = False  # a byte of the stream was handed out
        self.finished = data is not None  # the caller's body was read to its end

    @property
    def replayable(self) -> bool:
        return self._data is not None or not self.started

    def content(self) -> Body:
        """What to send: the bytes (``None`` for no body), or the stream."""
        if self._data is not None:
            return self._data or None
        return self._stream()

    async def _stream(self) -> AsyncIterator[bytes]:
        assert self._receive is not None
        if self.started:
            raise RuntimeError("a streamed request body can be sent only once")
        self.started = True
        size = len(self._head)
        if self._head:
            yield self._head
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise CallerGone("the caller disconnected before sending its whole body")
            chunk: bytes = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if self._max_bytes is not None and size > self._max_bytes:
                    self.refusal = PayloadTooLarge(self._max_bytes)
                    raise self.refusal
                yield chunk
            if not message.get("more_body", False):
                self.finished = True
                return


# What a call without a body sends; shared, since a body given as bytes is never changed.
NO_BODY = RequestBody(b"")


def announced_length(caller: CallerHeaders, max_bytes: int) -> int | None:
    """The caller's ``Content-Length``, if it sent one no larger than ``max_bytes``."""
    length = declared_length(caller.content_length)
    if length is not None and length > max_bytes:
        raise PayloadTooLarge(max_bytes)
    return length


async def read_body(
    length: int | None, receive: Receive, replay_limit: int, max_bytes: int
) -> RequestBody:
    """The body of a caller that sends one (``CallerHeaders.sends_body``; else ``NO_BODY``) of
    ``length`` bytes if announced (``announced_length``): kept whole up to ``replay_limit`` bytes,
    streamed beyond, refused past ``max_bytes``."""
    if length is not None and length > replay_limit:
        return RequestBody(None, receive=receive, length=length, max_bytes=max_bytes)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise CallerGone("the caller disconnected before sending its whole body")
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(max_bytes)
        if not message.get("more_body", False):
            return RequestBody(b"".join(chunks))
        if size > replay_limit:
            return RequestBody(
                None, receive=receive, head=b"".join(chunks), length=length, max_bytes=max_bytes
            )
