"""Which headers cross the proxy, each way.

Towards the provider only an allow-list of the caller's headers goes, and the gateway adds its own
``Authorization`` (the user's token), ``X-Request-Id`` and ``User-Agent``: nothing the caller sends
can replace them. Back to the caller everything the provider said goes, except hop-by-hop headers
(RFC 9110 §7.6.1, and whatever its ``Connection`` header names), cookies, and the headers the
gateway sets itself (a provider cannot fake ``Gateway-Error``).

Headers are ASGI's: lower-case byte names with latin-1 values.
"""

from __future__ import annotations

from collections.abc import Iterable

RawHeaders = list[tuple[bytes, bytes]]

FORWARDED = frozenset(
    {
        b"accept",
        b"accept-encoding",
        b"accept-language",
        b"content-type",
        b"content-encoding",
        b"content-language",
        b"idempotency-key",
        b"x-client-timezone",
        b"if-match",
        b"if-none-match",
        b"if-modified-since",
        b"if-unmodified-since",
        b"if-range",
        b"range",
        b"prefer",
    }
)
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
    }
)
# The server (uvicorn) and RequestContext set these on every response; cookies are the provider's
# business with a browser, never with an internal service.
NOT_RETURNED = HOP_BY_HOP | {
    b"gateway-error",
    b"x-request-id",
    b"set-cookie",
    b"set-cookie2",
    b"date",
    b"server",
}
USER_AGENT = "gateway-proxy/1"


def _connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    named: set[bytes] = set()
    for name, value in headers:
        if name == b"connection":
            named.update(part.strip().lower() for part in value.split(b","))
    return frozenset(named)


def upstream_request_headers(
    caller: Iterable[tuple[bytes, bytes]], token: str, request_id: str
) -> list[tuple[str, str]]:
    """The headers sent to the provider: the allowed ones of the caller's, then the gateway's own.

    ``Content-Length`` and ``Transfer-Encoding`` are the upstream client's to set from the body.
    """
    caller = list(caller)
    named = _connection_tokens(caller)
    headers = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in caller
        if name in FORWARDED and name not in named
    ]
    headers.append(("Authorization", f"Bearer {token}"))
    headers.append(("X-Request-Id", request_id))
    headers.append(("User-Agent", USER_AGENT))
    return headers


def returned_headers(upstream: Iterable[tuple[bytes, bytes]]) -> RawHeaders:
    """The provider's response headers (lower-case names) as they go back to the caller."""
    upstream = list(upstream)
    named = _connection_tokens(upstream)
    return [
        (name, value) for name, value in upstream if name not in NOT_RETURNED and name not in named
    ]


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None
