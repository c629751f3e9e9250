"""Reading the caller's headers in one pass: what is forwarded and what the proxy itself needs."""

from __future__ import annotations

from gateway.proxy.headers import CallerHeaders


def test_one_pass_finds_what_the_proxy_needs_and_what_goes_on() -> None:
    caller = CallerHeaders.read(
        [
            (b"host", b"gateway"),
            (b"authorization", b"Bearer first"),
            (b"authorization", b"Bearer second"),
            (b"x-request-id", b"rid-1"),
            (b"gateway-provider", b"contio"),
            (b"accept", b"application/json"),
            (b"idempotency-key", b"k-1"),
            (b"content-length", b"12"),
            (b"cookie", b"session=1"),
        ]
    )
    assert caller.authorization == b"Bearer first"  # a header sent twice counts as first sent
    assert (caller.request_id, caller.provider, caller.content_length) == (
        b"rid-1",
        b"contio",
        b"12",
    )
    assert caller.idempotency_key
    assert not caller.chunked
    assert caller.forwarded == [("accept", "application/json"), ("idempotency-key", "k-1")]


def test_headers_the_connection_header_names_are_not_forwarded() -> None:
    caller = CallerHeaders.read(
        [
            (b"connection", b"keep-alive, Idempotency-Key"),
            (b"idempotency-key", b"k-1"),
            (b"accept-encoding", b"gzip"),
            (b"transfer-encoding", b"chunked"),
        ]
    )
    assert caller.forwarded == [("accept-encoding", "gzip")]
    assert not caller.idempotency_key
    assert caller.chunked
