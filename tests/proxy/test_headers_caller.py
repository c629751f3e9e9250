"""Reading the caller's headers in one pass (what is forwarded and what the proxy itself needs),
and the provider's headers as they go back."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.proxy.headers import CallerHeaders, returned_headers


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
    assert caller.sends_body
    assert caller.forwarded == [("accept", "application/json"), ("idempotency-key", "k-1")]


def test_a_caller_without_length_or_chunks_sends_no_body() -> None:
    assert not CallerHeaders.read([(b"accept", b"*/*")]).sends_body
    assert not CallerHeaders().sends_body


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
    assert caller.sends_body


@pytest.mark.parametrize(
    "spell",
    [bytes, bytes.lower, bytes.upper, lambda name: name.swapcase()],
    ids=["as-sent", "lower", "upper", "swapped"],
)
def test_response_headers_return_lower_case_whatever_their_spelling(
    spell: Callable[[bytes], bytes],
) -> None:
    """Common spellings are looked up, the rest lowered: the same headers return either way."""
    upstream = [
        (spell(b"Server"), b"nginx"),
        (spell(b"Date"), b"Sat, 05 Dec 2026 07:00:00 GMT"),
        (spell(b"Content-Type"), b"application/json"),
        (spell(b"Content-Length"), b"2"),
        (spell(b"ETag"), b'"v1"'),
        (spell(b"X-Custom-Thing"), b"kept"),
        (spell(b"Set-Cookie"), b"a=1"),
        (spell(b"Connection"), spell(b"Keep-Alive")),
        (spell(b"Keep-Alive"), b"timeout=5"),
    ]
    assert returned_headers(upstream) == [
        (b"content-type", b"application/json"),
        (b"content-length", b"2"),
        (b"etag", b'"v1"'),
        (b"x-custom-thing", b"kept"),
    ]


def test_response_headers_the_connection_header_names_are_dropped_in_any_case() -> None:
    upstream = [
        (b"Connection", b"Keep-Alive, X-Hop"),
        (b"X-HOP", b"1"),
        (b"X-Stays", b"2"),
    ]
    assert returned_headers(upstream) == [(b"x-stays", b"2")]
