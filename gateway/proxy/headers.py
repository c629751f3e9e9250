"""Which headers cross the proxy, each way.

Towards the provider only an allow-list of the caller's headers goes, and the gateway adds its own
credential (``Authorization`` with the user's token, or the header the provider's profile or a
stored credential names; ``proxy.injection``), ``X-Request-Id`` and ``User-Agent``: nothing the
caller sends can replace them. Back to the caller everything the provider said goes, except
hop-by-hop headers (RFC 9110 §7.6.1, and whatever its ``Connection`` header names), cookies, and
the headers the gateway sets itself (a provider cannot fake ``Gateway-Error``).

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
# The server (uvicorn) and the request's record set these on every response; cookies are the provider's
# business with a browser, never with an internal service.
NOT_RETURNED = HOP_BY_HOP | {
    b"gateway-error",
    b"x-request-id",
    b"set-cookie",
    b"set-cookie2",
    b"date",
    b"server",
}
# ``Connection`` values that name no header (the usual ones): nothing more to drop.
PLAIN_CONNECTION = frozenset({b"keep-alive", b"close"})
PLAIN_CONNECTION_AS_SENT = PLAIN_CONNECTION | {b"Keep-Alive", b"Close"}
# Response header names in the spellings servers commonly send, and the same in lower case.
_COMMON_RESPONSE_HEADERS = (
    "Accept-Ranges",
    "Cache-Control",
    "Connection",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Type",
    "Date",
    "ETag",
    "Expires",
    "Keep-Alive",
    "Last-Modified",
    "Location",
    "Retry-After",
    "Server",
    "Set-Cookie",
    "Transfer-Encoding",
    "Vary",
    "X-Request-Id",
)
_LOWERED = {
    spelling: name.lower().encode()
    for name in _COMMON_RESPONSE_HEADERS
    for spelling in (name.encode(), name.lower().encode())
}
USER_AGENT = "gateway-proxy/1"
# Sent on every call unless the caller sent its own Accept or Accept-Encoding (the upstream client
# holds them as its defaults, so a call adds only what differs): any media type, no compression the
# caller did not ask for (bytes pass through as the provider sends them), and the gateway's name.
DEFAULT_UPSTREAM_HEADERS = {
    "Accept": "*/*",
    "Accept-Encoding": "identity",
    "User-Agent": USER_AGENT,
}


# What ``CallerHeaders.read`` does with each header it knows; it passes over any other.
_FORWARD, _AUTHORIZATION, _REQUEST_ID, _PROVIDER, _LENGTH, _CHUNKED, _CONNECTION = range(7)
_KNOWN = {
    **dict.fromkeys(FORWARDED, _FORWARD),
    b"authorization": _AUTHORIZATION,
    b"x-request-id": _REQUEST_ID,
    b"gateway-provider": _PROVIDER,
    b"content-length": _LENGTH,
    b"transfer-encoding": _CHUNKED,
    b"connection": _CONNECTION,
}


class CallerHeaders:
    """What the proxy reads from the caller's headers, found in one pass over them (``read``)."""

    __slots__ = (
        "authorization",
        "chunked",
        "content_length",
        "forwarded",
        "idempotency_key",
        "provider",
        "request_id",
    )

    def __init__(self) -> None:
        self.authorization: bytes | None = None
        self.request_id: bytes | None = None
        self.provider: bytes | None = None
        self.content_length: bytes | None = None
        self.chunked = False
        self.idempotency_key = False
        self.forwarded: list[tuple[str, str]] = []

    @property
    def sends_body(self) -> bool:
        return self.content_length is not None or self.chunked

    @classmethod
    def read(cls, raw: Iterable[tuple[bytes, bytes]]) -> CallerHeaders:
        found = cls()
        connection: list[bytes] = []
        for name, value in raw:
            kind = _KNOWN.get(name)
            if kind is None:  # most of a caller's headers: one lookup each
                continue
            if kind == _FORWARD:
                found.forwarded.append((name.decode("latin-1"), value.decode("latin-1")))
                if name == b"idempotency-key":
                    found.idempotency_key = True
            # A header sent twice counts as first sent, as ``header`` reads it.
            elif kind == _AUTHORIZATION:
                found.authorization = found.authorization or value
            elif kind == _REQUEST_ID:
                found.request_id = found.request_id or value
            elif kind == _PROVIDER:
                found.provider = found.provider or value
            elif kind == _LENGTH:
                found.content_length = found.content_length or value
            elif kind == _CHUNKED:
                found.chunked = True
            else:
                connection.append(value)
        if connection:
            # Whatever the caller's Connection header names is hop-by-hop too.
            named = _connection_tokens(connection)
            found.forwarded = [
                (name, value) for name, value in found.forwarded if name.encode() not in named
            ]
            found.idempotency_key = any(name == "idempotency-key" for name, _ in found.forwarded)
        return found


def _connection_tokens(values: Iterable[bytes]) -> frozenset[bytes]:
    """The header names the ``Connection`` header's values name."""
    return frozenset(part.strip().lower() for value in values for part in value.split(b","))


def upstream_request_headers(
    caller: CallerHeaders,
    credential: tuple[str, str] | None,
    request_id: str,
    replaces_forwarded: bool = False,
) -> list[tuple[str, str]]:
    """The headers sent to the provider: the caller's allowed ones (``CallerHeaders.forwarded``),
    then the gateway's own: the ``credential`` header (None: the credential travels in the query),
    and the request id; ``DEFAULT_UPSTREAM_HEADERS`` go with them where the caller is silent.
    With ``replaces_forwarded``, a caller's header of the credential's name is not forwarded.

    ``Content-Length`` and ``Transfer-Encoding`` are the upstream client's to set from the body.
    """
    if credential is None:
        return [*caller.forwarded, ("X-Request-Id", request_id)]
    forwarded = caller.forwarded
    if replaces_forwarded:
        name = credential[0].lower()
        forwarded = [pair for pair in forwarded if pair[0] != name]
    return [*forwarded, credential, ("X-Request-Id", request_id)]


def returned_headers(upstream: Iterable[tuple[bytes, bytes]]) -> RawHeaders:
    """The provider's response headers (any case) as they go back to the caller (lower-case)."""
    returned: RawHeaders = []
    connection: list[bytes] = []
    for name, value in upstream:
        # Names as servers usually write them are looked up rather than lowered
        # (``docs/performance.md``).
        name = _LOWERED[name] if name in _LOWERED else name.lower()
        if name not in NOT_RETURNED:
            returned.append((name, value))
        elif (
            name == b"connection"
            and value not in PLAIN_CONNECTION_AS_SENT
            and value.lower() not in PLAIN_CONNECTION
        ):
            connection.append(value)
    if connection:
        # Anything it names besides keep-alive or close (hop-by-hop already) goes too.
        named = _connection_tokens(connection) - NOT_RETURNED
        if named:
            returned = [(name, value) for name, value in returned if name not in named]
    return returned


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def received_header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """``header`` for headers as a server sent them (``name`` in lower case, theirs in any)."""
    for key, value in headers:
        if key.lower() == name:
            return value
    return None
