"""The proxy's upstream HTTP client, behind a small interface of ours, and the deadlines it keeps.

One ``aiohttp.ClientSession`` per process (opened in the lifespan) carries every proxied call. The
rest of the proxy sees only ``Upstream``, ``RawResponse`` and our own errors; aiohttp's exceptions
are translated here and go no further. The session follows no redirects, keeps no cookies (it is
shared by every user), adds no headers but the defaults it is given and does not decompress: bytes
pass through as the provider sent them.

Deadlines are kept by one ``Watchdog`` rather than an event-loop timer each: a deadline is an entry
in a dictionary, one watchdog task looks every ``RESOLUTION`` seconds and cancels each task whose
deadline has passed, and the task's ``limit`` block then raises ``TimeoutError``, exactly as
``asyncio.timeout_at`` would. A deadline may so be overrun by up to ``RESOLUTION``, which is nothing
next to the proxy's timeouts (seconds). Deadlines are on ``time.monotonic``'s clock, and nothing here
asks asyncio for the running loop per call. Why the proxy keeps its own: ``docs/performance.md``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Protocol

import aiohttp
from yarl import URL

from gateway.proxy.errors import UpstreamFailure, UpstreamTimeout, UpstreamUnreachable
from gateway.proxy.headers import RawHeaders

RESOLUTION = 0.05

Body = bytes | AsyncIterable[bytes] | None
# aiohttp adds Accept, Accept-Encoding and User-Agent unless they are sent (the session holds our
# own defaults for them), and a Content-Type for a body that has none, unless told not to.
SKIP_CONTENT_TYPE = ("Content-Type",)
# URLs kept parsed (``AiohttpUpstream._url``); past this many they are all let go and kept anew.
MAX_URLS = 50_000


class RawResponse(Protocol):
    """The provider's response as the client hands it over, its body not yet read; ``headers`` as
    received (names in any case)."""

    status: int
    headers: RawHeaders

    def whole_body(self) -> bytes | None:
        """The whole body when all of it has arrived already (most small responses), else None."""
        ...

    async def read_head(self, limit: int) -> tuple[bytes, bool]:
        """At least ``limit`` bytes of the body (or all of it), and whether that is all of it."""
        ...

    def rest(self) -> AsyncIterator[bytes]:
        """The body after what ``read_head`` returned."""
        ...

    def close(self) -> None:
        """Give the connection back (or drop it, when the body was not read to the end)."""
        ...


class Upstream(Protocol):
    async def send(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: Body
    ) -> RawResponse:
        """Send the request and wait for the response's head, for as long as it takes: the caller
        bounds the wait (``forward`` does, with the read and total timeouts)."""
        ...

    async def aclose(self) -> None: ...


def translate(exc: BaseException) -> UpstreamFailure:
    """Our error for aiohttp's (or a timeout's); ``before_sending`` only when nothing left us."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return UpstreamTimeout(
            "the provider's API could not be reached in time", before_sending=True
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamUnreachable("the provider's API could not be reached", before_sending=True)
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout("the provider's API did not answer in time")
    return UpstreamUnreachable("the connection to the provider's API broke off")


class AiohttpResponse:
    def __init__(
        self, response: aiohttp.ClientResponse, watchdog: Watchdog, read_timeout: float
    ) -> None:
        self._response = response
        self._watchdog = watchdog
        self._read_timeout = read_timeout
        self.status = response.status
        self.headers: RawHeaders = list(response.raw_headers)

    async def _read_more(self) -> bytes:
        """The next bytes of the body, within the read timeout."""
        with self._watchdog.limit(time.monotonic() + self._read_timeout):
            return await self._response.content.readany()

    def whole_body(self) -> bytes | None:
        content = self._response.content
        return content.read_nowait() if content.is_eof() else None

    async def read_head(self, limit: int) -> tuple[bytes, bool]:
        content = self._response.content
        chunks: list[bytes] = []
        size = 0
        try:
            if content.is_eof():
                return content.read_nowait(), True
            while True:
                chunk = await self._read_more()
                if not chunk:
                    return b"".join(chunks), True
                chunks.append(chunk)
                size += len(chunk)
                if size >= limit or content.at_eof():
                    return b"".join(chunks), content.at_eof()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise translate(exc) from exc

    async def rest(self) -> AsyncIterator[bytes]:
        try:
            while chunk := await self._read_more():
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise translate(exc) from exc

    def close(self) -> None:
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


class AiohttpUpstream:
    """``Upstream`` over one shared ``aiohttp.ClientSession``; create it inside the running loop."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_connections: int,
        default_headers: Mapping[str, str],
        watchdog: Watchdog,
    ) -> None:
        self._watchdog = watchdog
        self._read_timeout = read_timeout
        self._urls: dict[str, URL] = {}
        self._session = aiohttp.ClientSession(
            # Sent with every request unless its own headers name them.
            headers=default_headers,
            connector=aiohttp.TCPConnector(
                limit=max_connections, limit_per_host=0, ttl_dns_cache=60
            ),
            # The wait for a pooled connection is bounded by the exchange's deadline
            # (``forward``), the connecting itself by ``sock_connect``; the read timeout is kept
            # by the ``Watchdog``, not by aiohttp's ``sock_read`` timer.
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
        )

    async def send(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: Body
    ) -> RawResponse:
        typed = body is None or any(name.lower() == "content-type" for name, _ in headers)
        parsed = self._urls.get(url)  # (not ``or``: asking a URL's truth is a call of its own)
        if parsed is None:
            parsed = self._url(url)
        try:
            response = await self._session.request(
                method,
                parsed,
                headers=headers,
                data=body,
                allow_redirects=False,
                skip_auto_headers=None if typed else SKIP_CONTENT_TYPE,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise translate(exc) from exc
        return AiohttpResponse(response, self._watchdog, self._read_timeout)

    def _url(self, url: str) -> URL:
        """``url`` parsed, and kept when it has no query string (those vary from call to call):
        calls go to the same few URLs again and again (a user's API path), and a kept URL has
        worked out the host, port and path aiohttp asks it for."""
        parsed = URL(url, encoded=True)
        if "?" not in url:
            if len(self._urls) >= MAX_URLS:
                self._urls.clear()
            self._urls[url] = parsed
        return parsed

    async def aclose(self) -> None:
        await self._session.close()
        # Let the transports finish closing before the loop goes (aiohttp's documented advice).
        await asyncio.sleep(0)


class Deadline:
    """``with watchdog.limit(when):`` TimeoutError if the block, inside a task, runs past
    ``when`` (``time.monotonic``; it may be moved while the block runs). A plain context
    manager: entering and leaving are a dictionary operation each, and no coroutine."""

    __slots__ = ("_expired", "_loop", "_pending", "_task", "when")

    def __init__(
        self,
        pending: dict[Deadline, None],
        when: float,
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self._pending = pending
        self.when = when
        self._loop = loop
        self._task: asyncio.Task[object] | None = None
        self._expired = False

    def __enter__(self) -> Deadline:
        self._task = asyncio.current_task(self._loop)
        self._pending[self] = None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        del self._pending[self]
        if self._expired and exc_type is asyncio.CancelledError:
            assert self._task is not None
            if self._task.uncancel() == 0:  # cancelled by us alone, not also from outside
                raise TimeoutError from exc

    def expire(self) -> None:
        if not self._expired and self._task is not None:
            self._expired = True
            self._task.cancel()


class Watchdog:
    """One per process, run by the lifespan (``run``); deadlines only expire while it runs."""

    def __init__(self) -> None:
        self._pending: dict[Deadline, None] = {}
        self._loop: asyncio.AbstractEventLoop | None = None  # the watchdog's, once it runs

    def limit(self, when: float) -> Deadline:
        return Deadline(self._pending, when, self._loop)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        while not stop.is_set():
            await asyncio.sleep(RESOLUTION)
            now = time.monotonic()
            for deadline in [d for d in self._pending if d.when <= now]:
                deadline.expire()
