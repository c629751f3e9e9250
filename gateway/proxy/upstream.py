"""The proxy's upstream HTTP client, behind a small interface of ours.

One ``aiohttp.ClientSession`` per process (opened in the lifespan) carries every proxied call: its pool
holds up under concurrency where httpx's does not (see issue 5). The rest of the proxy sees only
``Upstream``, ``UpstreamResponse`` and our own errors; aiohttp's exceptions are translated here and go
no further. The session follows no redirects, keeps no cookies (it is shared by every user), adds no
headers but the defaults it is given and does not decompress: bytes pass through as the provider
sent them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from typing import Protocol

import aiohttp
from yarl import URL

from gateway.proxy.deadlines import Watchdog
from gateway.proxy.errors import UpstreamFailure, UpstreamTimeout, UpstreamUnreachable
from gateway.proxy.headers import RawHeaders

Body = bytes | AsyncIterable[bytes] | None
# aiohttp adds Accept, Accept-Encoding and User-Agent unless they are sent (the session is given
# its own defaults for them: asking aiohttp to skip them costs more on every request), and a
# Content-Type for a body that has none, unless told not to.
SKIP_CONTENT_TYPE = ("Content-Type",)
# URLs kept parsed (``AiohttpUpstream._url``); past this many they are all let go and kept anew.
MAX_URLS = 50_000


class UpstreamResponse(Protocol):
    """The provider's answer, its body not yet read; ``headers`` as received (names in any case)."""

    status: int
    headers: RawHeaders

    def whole_body(self) -> bytes | None:
        """The whole body when all of it has arrived already (most small answers), else None."""
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
    ) -> UpstreamResponse:
        """Send the request and wait for the answer's head, for as long as it takes: the caller
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
            # (``forward``), the connecting itself by ``sock_connect``. The read timeout is kept
            # by the watchdog (``deadlines``): aiohttp's ``sock_read`` arms and cancels an event
            # loop timer twice a call, which costs a busy proxy more than all of its own checks.
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
        )

    async def send(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: Body
    ) -> UpstreamResponse:
        typed = body is None or any(name.lower() == "content-type" for name, _ in headers)
        parsed = self._urls.get(url)  # (not ``or``: a URL's truth is a call of its own)
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
        """``url`` parsed, and kept when it has no query string (those vary from call to call).

        A call goes to the same few URLs again and again (a user's API path), and aiohttp asks
        the URL for its host, port, path and more, which a kept one has worked out already: a
        parse and those answers cost more than the rest of this module's work for a call."""
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
