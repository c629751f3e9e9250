"""The proxy's upstream HTTP client, behind a small interface of ours.

The implementation is swappable (a later benchmark picks the fastest that holds up under concurrency);
the rest of the proxy sees only ``Upstream``, ``UpstreamResponse`` and our own errors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx

from gateway.exceptions import GatewayError, UpstreamError

Headers = Sequence[tuple[str, str]]


class UpstreamUnreachable(UpstreamError):
    """Raised when the provider's API cannot be reached (DNS, refused, reset)."""

    code = "upstream_unreachable"


class UpstreamTimeout(GatewayError):
    """Raised when the provider's API did not answer in time."""

    status_code = 504
    code = "upstream_timeout"


@dataclass
class UpstreamResponse:
    status: int
    headers: list[tuple[str, str]]
    body: AsyncIterator[bytes]
    _response: httpx.Response

    async def aclose(self) -> None:
        await self._response.aclose()


class Upstream(Protocol):
    async def send(
        self, method: str, url: str, headers: Headers, body: bytes | None
    ) -> UpstreamResponse: ...

    async def aclose(self) -> None: ...


class HttpxUpstream:
    """``Upstream`` over one shared ``httpx.AsyncClient``; redirects are returned, never followed."""

    def __init__(self, *, connect_timeout: float, read_timeout: float) -> None:
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            follow_redirects=False,
            trust_env=False,
        )

    async def send(
        self, method: str, url: str, headers: Headers, body: bytes | None
    ) -> UpstreamResponse:
        request = self._client.build_request(method, url, headers=list(headers), content=body)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("the provider's API did not answer in time") from exc
        except httpx.TransportError as exc:
            raise UpstreamUnreachable("the provider's API could not be reached") from exc
        return UpstreamResponse(
            status=response.status_code,
            headers=list(response.headers.multi_items()),
            body=response.aiter_raw(),
            _response=response,
        )

    async def aclose(self) -> None:
        await self._client.aclose()
