"""One exchange with the provider's API: the request and its body, the attempts, the retry rule and
the wait between attempts, within a deadline.

**The request body.** A body up to the replay limit is read whole and kept, so it can be sent again
(a retry, or the retry after a 401 and a refresh). A larger one, or one of unknown length that
outgrows the limit, is streamed: each chunk goes upstream as it arrives, with the server's flow
control in between, so memory does not grow with the body. A stream can be sent once; as long as not
a byte of it was taken (the connection failed first), it can still be sent elsewhere. No body is
larger than the proxy's cap (``proxy_max_body_bytes``): a ``Content-Length`` above it is refused
before the call is even admitted (``announced_length``, with the app's own check of it,
``kit.request_body.capped_length``), and a chunked body is counted as it is read or streamed and
refused with ``413`` as soon as it passes the cap (``RequestBody.refusal`` then names the reason the
exchange broke off).

**An attempt** sends the request and reads the response's head: its status, headers and the first
``response_buffer`` bytes of its body (all of a small body). Reading that much before answering the
caller means a response lost halfway (the connection closing mid-body) is still a failed attempt,
retried when the rule allows it, or a clean 502 otherwise, instead of a caller's truncated 200.

**The retry rule.** A retry must not do the work twice. So only these are retried: GET, HEAD,
OPTIONS, PUT and DELETE (idempotent by definition) and any request carrying an ``Idempotency-Key``
(the provider runs it once and replays the response); only on a connection failure, a timeout, or a
502, 503 or 504; and only while the body can be sent again. Any other request (a plain POST or
PATCH) is retried only when the failure came before a byte of it left the gateway (the connection
could not be opened), which cannot have reached the provider. A 429 is never retried: it goes back
with its ``Retry-After``, as does a 502/503/504 whose ``Retry-After`` is longer than the gateway is
willing to wait. Waits are capped exponential backoff with jitter (half fixed, half random), all
within the request's total deadline: no wait runs past it, and an attempt it cuts short fails with
504.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from starlette.types import Receive

from gateway.exceptions import PayloadTooLarge
from gateway.kit.backoff import backoff_seconds
from gateway.kit.request_body import capped_length
from gateway.proxy.errors import UpstreamFailure, UpstreamTimeout
from gateway.proxy.headers import CallerHeaders, received_header, upstream_request_headers
from gateway.proxy.injection import Injection
from gateway.proxy.upstream import Body, RawResponse, Upstream, Watchdog
from gateway.settings import Settings

log = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRIED_STATUSES = frozenset({502, 503, 504})


def repeatable(method: str, has_idempotency_key: bool) -> bool:
    """Whether sending the request twice has the effect of sending it once."""
    return method in IDEMPOTENT_METHODS or has_idempotency_key


def retry_after_seconds(value: bytes | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent or bad."""
    if value is None:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float
    total_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_attempts=settings.proxy_max_attempts,
            base_seconds=settings.proxy_retry_base_seconds,
            max_seconds=settings.proxy_retry_max_seconds,
            total_seconds=settings.proxy_total_timeout_seconds,
        )

    def wait(
        self,
        attempt: int,
        remaining: float,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None when there is to be none."""
        if attempt >= self.max_attempts:
            return None
        delay = backoff_seconds(
            attempt,
            base=self.base_seconds,
            cap=self.max_seconds,
            jitter=0.5,
            draw=(rng or random).random(),
        )
        if retry_after is not None:
            if retry_after > self.max_seconds:
                return None
            delay = max(delay, retry_after)
        if delay >= remaining:
            return None
        return delay


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
    return capped_length(caller.content_length, max_bytes)


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


@dataclass(slots=True)
class UpstreamRequest:
    """The call as the provider gets it, but for the token."""

    method: str
    url: str
    caller: CallerHeaders
    request_id: str
    body: RequestBody
    repeatable: bool

    @property
    def logged_as(self) -> str:
        """Method and URL without the query string (which may carry what logs must not)."""
        return f"{self.method} {self.url.partition('?')[0]}"


@dataclass(slots=True)
class UpstreamResponse:
    """The provider's response: its status, the head of its body (all of it when ``complete``)
    and the rest still to read from ``response``; ``attempts`` made to get it."""

    response: RawResponse
    head: bytes
    complete: bool
    attempts: int
    status: int


class Forwarder:
    def __init__(
        self,
        upstream: Upstream,
        policy: RetryPolicy,
        response_buffer: int,
        watchdog: Watchdog,
        read_timeout: float,
        rng: random.Random | None = None,
    ) -> None:
        self._upstream = upstream
        self._watchdog = watchdog
        self.policy = policy
        self._response_buffer = response_buffer
        self._read_timeout = read_timeout
        self._rng = rng

    def deadline(self) -> float:
        """When the exchange must be over, on the deadlines' clock (``time.monotonic``)."""
        return time.monotonic() + self.policy.total_seconds

    async def exchange(
        self, request: UpstreamRequest, injection: Injection, deadline: float
    ) -> UpstreamResponse:
        """The provider's response, retried as far as is safe; our error when there is none.
        Attempts are made right here, not in a coroutine each (``docs/performance.md``)."""
        headers = upstream_request_headers(
            request.caller, injection.header, request.request_id, injection.replaces_forwarded
        )
        streamed = request.body.streamed
        if streamed and request.body.length is not None:
            # Sent as announced rather than chunked: some servers take no chunked uploads.
            headers.append(("Content-Length", str(request.body.length)))
        attempt = 0
        while True:
            attempt += 1
            response: RawResponse | None = None
            try:
                try:
                    # One watchdog entry for the attempt: until the response starts, the read
                    # timeout counts too (a body in hand is sent at once; a streamed one may take
                    # long to send); the head's reads then keep their own read timeout.
                    answer_by = deadline
                    if not streamed:
                        answer_by = time.monotonic() + self._read_timeout
                        if answer_by > deadline:
                            answer_by = deadline
                    with self._watchdog.limit(answer_by) as limit:
                        response = await self._upstream.send(
                            request.method, request.url, headers, request.body.content()
                        )
                        limit.when = deadline
                        head = response.whole_body()
                        complete = head is not None
                        if head is None:
                            head, complete = await response.read_head(self._response_buffer)
                except TimeoutError as exc:
                    raise UpstreamTimeout("the provider's API did not answer in time") from exc
            except UpstreamFailure as failure:
                if response is not None:
                    response.close()
                may = request.body.replayable and (failure.before_sending or request.repeatable)
                wait = (
                    self.policy.wait(attempt, deadline - time.monotonic(), rng=self._rng)
                    if may
                    else None
                )
                if wait is None:
                    raise
                log.warning(
                    "%s: attempt %d failed (%s); retrying in %.2fs",
                    request.logged_as,
                    attempt,
                    failure.code,
                    wait,
                    extra={"request_id": request.request_id},
                )
                await asyncio.sleep(wait)
                continue
            except BaseException:
                if response is not None:
                    response.close()
                raise
            status = response.status
            if status in RETRIED_STATUSES and request.repeatable and request.body.replayable:
                retry_after = retry_after_seconds(received_header(response.headers, b"retry-after"))
                wait = self.policy.wait(
                    attempt, deadline - time.monotonic(), retry_after, self._rng
                )
                if wait is not None:
                    response.close()
                    log.warning(
                        "%s: attempt %d answered %d; retrying in %.2fs",
                        request.logged_as,
                        attempt,
                        status,
                        wait,
                        extra={"request_id": request.request_id},
                    )
                    await asyncio.sleep(wait)
                    continue
            return UpstreamResponse(response, head, complete, attempt, status)
