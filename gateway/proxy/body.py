"""The caller's request body, as the proxy sends it on.

A body up to the replay limit is read whole and kept, so it can be sent again (a retry, or the retry
after a 401 and a refresh). A larger one, or one of unknown length that outgrows the limit, is
streamed: each chunk goes upstream as it arrives, with the server's flow control in between, so
memory does not grow with the body. A stream can be sent once; as long as not a byte of it was
taken (the connection failed first), it can still be sent elsewhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.types import Receive

from gateway.exceptions import BadRequest
from gateway.proxy.headers import CallerHeaders
from gateway.proxy.upstream import Body


class CallerGone(Exception):
    """Raised into the upstream request when the caller disconnected halfway through its body."""


class RequestBody:
    """Either ``data`` (whole, replayable) or a one-shot stream of ``length`` bytes, if known."""

    def __init__(
        self,
        data: bytes | None,
        *,
        receive: Receive | None = None,
        head: bytes = b"",
        length: int | None = None,
    ) -> None:
        self._data = data
        self._receive = receive
        self._head = head
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
        if self._head:
            yield self._head
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise CallerGone("the caller disconnected before sending its whole body")
            chunk: bytes = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                self.finished = True
                return


# What a call without a body sends; shared, since a body given as bytes is never changed.
NO_BODY = RequestBody(b"")


async def read_body(caller: CallerHeaders, receive: Receive, replay_limit: int) -> RequestBody:
    """The body of a caller that sends one (``CallerHeaders.sends_body``; else ``NO_BODY``):
    kept whole up to ``replay_limit`` bytes, streamed beyond."""
    declared = caller.content_length
    length = _content_length(declared) if declared is not None else None
    if length is not None and length > replay_limit:
        return RequestBody(None, receive=receive, length=length)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise CallerGone("the caller disconnected before sending its whole body")
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return RequestBody(b"".join(chunks))
        if size > replay_limit:
            return RequestBody(None, receive=receive, head=b"".join(chunks), length=length)


def _content_length(value: bytes) -> int:
    if not value.isdigit() or len(value) > 18:
        raise BadRequest("Content-Length must be a number of bytes", code="invalid_request")
    return int(value)
