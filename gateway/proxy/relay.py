"""Sending the provider's answer on to the caller.

A body read whole (``forward`` reads small ones before answering) goes back in one piece with its
length. A larger one streams chunk by chunk under the server's flow control, so memory does not grow
with it; if the caller goes away the provider's connection is dropped, and if the provider breaks
off mid-body the answer is cut short too (never completed as if whole).
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import Receive, Send

from gateway.proxy.errors import UpstreamFailure
from gateway.proxy.forward import Answer
from gateway.proxy.headers import header, returned_headers
from gateway.proxy.served import Served

log = logging.getLogger(__name__)


async def relay(
    reply: Answer, method: str, receive: Receive | None, send: Send, served: Served
) -> None:
    """Send the answer with ``served``'s headers, and finish ``served`` before its last byte;
    ``receive`` (once the caller's body is read) tells if the caller leaves."""
    response = reply.response
    headers = returned_headers(response.headers)
    if reply.complete:
        _with_length(headers, reply, method)
    headers += served.headers
    served.status = reply.status
    try:
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        if reply.complete:
            served.finish()
            await send({"type": "http.response.body", "body": reply.head})
            return
        await _stream(reply, receive, send, served)
    finally:
        response.close()


def _with_length(headers: list[tuple[bytes, bytes]], reply: Answer, method: str) -> None:
    """A body read whole goes back with its length (rather than chunked)."""
    if method == "HEAD" or reply.status in (204, 304) or reply.status < 200:
        return
    if header(headers, b"content-length") is None:
        headers.append((b"content-length", str(len(reply.head)).encode()))


async def _disconnect(receive: Receive) -> None:
    """Returns when the caller goes away (its body, if any is left unread, is passed over)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _stream(reply: Answer, receive: Receive | None, send: Send, served: Served) -> None:
    gone = asyncio.ensure_future(_disconnect(receive)) if receive is not None else None
    try:
        if reply.head:
            await send({"type": "http.response.body", "body": reply.head, "more_body": True})
        async for chunk in reply.response.rest():
            if gone is not None and gone.done():
                log.info("the caller went away mid-answer; dropping the provider's connection")
                return
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        served.finish()
        await send({"type": "http.response.body", "body": b""})
    except UpstreamFailure as exc:
        # The answer has started: all that is left is to cut it short, so the caller sees it was.
        log.warning("the provider's answer broke off mid-body (%s)", exc.code)
    finally:
        if gone is not None:
            gone.cancel()
