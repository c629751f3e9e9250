"""An httpx transport that sends over aiohttp.

The provider client keeps httpx's interface (requests, responses, errors) and sends through this:
one ``aiohttp.ClientSession`` per transport, opened on first use. httpx's own pool spends more of
a small request's processor time looking after its connections than sending on them; aiohttp's
does not (``docs/performance.md``). What the caller sees is what httpx's own transport gives:

- the request goes as httpx built it (its headers, body and URL, already encoded), with no
  redirect followed, no cookie kept and no proxy taken from the environment;
- the response's body is read whole and handed over as it arrived (not decompressed): httpx decodes
  it by its ``Content-Encoding``, as it does its own transport's;
- the timeouts httpx gives the request apply (connect, read, and the wait for a pooled
  connection), and every failure is raised as httpx's error for it: ``ConnectTimeout``,
  ``ReadTimeout``, ``PoolTimeout``, ``ConnectError``, or ``ReadError`` for a connection that broke.

TLS is verified against the same certificates httpx's transport uses (``httpx.create_ssl_context``).
"""

from __future__ import annotations

import ssl

import aiohttp
import httpx
from yarl import URL

# As httpx's own transport: at most this many connections, kept idle this long.
MAX_CONNECTIONS = 100
KEEPALIVE_SECONDS = 5.0


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, verify: ssl.SSLContext | None = None) -> None:
        self._ssl = verify if verify is not None else httpx.create_ssl_context()
        self._session: aiohttp.ClientSession | None = None

    def _opened(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_SECONDS, ssl=self._ssl
                ),
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=timeouts.get("pool"),
            sock_connect=timeouts.get("connect"),
            sock_read=timeouts.get("read"),
        )
        body = await request.aread()
        try:
            async with self._opened().request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                timeout=timeout,
            ) as response:
                content = await response.read()
                status, headers = response.status, list(response.raw_headers)
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout("connecting timed out", request=request) from exc
        except aiohttp.ServerTimeoutError as exc:
            raise httpx.ReadTimeout("reading timed out", request=request) from exc
        except TimeoutError as exc:  # waiting for a pooled connection
            raise httpx.PoolTimeout("no connection came free in time", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError("could not connect", request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.ReadError("the connection broke off", request=request) from exc
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(content))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
