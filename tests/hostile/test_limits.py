"""Size and time limits, checked before any work, on both listeners of a real ``gateway serve``.

Every route that can take a body refuses an oversized ``Content-Length`` at once (the route list
comes from ``gateway.routes``, so a new route is covered without editing this file), a chunked
body is cut at its cap, the process's memory stays flat whatever is sent, oversized heads get
``431`` and a head that takes too long to arrive gets the connection closed.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest
from starlette.routing import Mount, Route

from gateway.public_port import is_public
from gateway.routes import routes
from tests.hostile.limits_fixtures import (
    HEADER_TIMEOUT,
    MAX_HEADER_BYTES,
    MAX_HEADER_COUNT,
    Gateway,
    Reply,
    chunked,
    connect,
    gateway,
    read_reply,
    request_head,
    send_stream,
    zeros,
)

__all__ = ["gateway"]

BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
HUGE = 300 * 1024 * 1024
# What a sweep may add to the time limit, plus a loaded machine's scheduling.
TIMEOUT_MARGIN = HEADER_TIMEOUT / 4 + 2.0


def body_routes() -> Iterator[tuple[str, str]]:
    """(method, concrete path) for every route and method that can carry a body."""
    for route in routes:
        mounted = route.routes if isinstance(route, Mount) else [route]
        prefix = route.path if isinstance(route, Mount) else ""
        for child in mounted:
            assert isinstance(child, Route)
            path = re.sub(r"\{[^}]+\}", "x1", prefix + child.path)
            for method in sorted((child.methods or set()) & BODY_METHODS):
                yield method, path


BODY_ROUTES = sorted(set(body_routes()))


def test_the_route_list_covers_every_kind_of_body() -> None:
    paths = {path for _, path in BODY_ROUTES}
    assert {"/v1/connect-sessions", "/provision/x1", "/webhooks/contio"} <= paths
    assert "/console/sign-in" in paths
    assert any(path.startswith("/proxy/users/") for path in paths)


def refused_declared(port: int, method: str, path: str) -> Reply:
    head = request_head(method, path, [("Content-Length", str(HUGE))])
    with connect(port) as sock:
        sock.sendall(head)  # and not a byte of the body
        started = time.monotonic()
        reply = read_reply(sock)
        assert time.monotonic() - started < 5
    assert reply is not None
    return reply


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_an_oversized_content_length_is_refused_at_once_internally(
    gateway: Gateway, method: str, path: str
) -> None:
    reply = refused_declared(gateway.internal, method, path)
    assert reply.status == 413, reply
    assert json.loads(reply.body)["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_an_oversized_content_length_is_refused_at_once_publicly(
    gateway: Gateway, method: str, path: str
) -> None:
    reply = refused_declared(gateway.public, method, path)
    # What the public port does not serve is a 404 there, before any body is read.
    assert reply.status == (413 if is_public(path, method) else 404), reply
    assert "code" in json.loads(reply.body)["error"]


@pytest.mark.parametrize(
    ("listener", "path", "cap"),
    [
        ("public", "/provision/x1", 4096),
        ("internal", "/provision/x1", 4096),
        ("internal", "/webhooks/contio", 1024 * 1024),
        ("internal", "/console/sign-in", 16 * 1024),
    ],
)
def test_a_chunked_body_is_cut_at_its_cap(
    gateway: Gateway, listener: str, path: str, cap: int
) -> None:
    port = gateway.public if listener == "public" else gateway.internal
    with connect(port) as sock:
        form = ("Content-Type", "application/x-www-form-urlencoded")
        sock.sendall(request_head("POST", path, [("Transfer-Encoding", "chunked"), form]))
        sent = send_stream(sock, chunked(zeros(HUGE)))
        reply = read_reply(sock)
    assert reply is not None
    assert reply.status == 413
    assert json.loads(reply.body)["error"]["details"]["limit_bytes"] <= cap
    assert sent < HUGE


def test_memory_stays_flat_whatever_is_sent(gateway: Gateway) -> None:
    before = gateway.rss_kib()
    total = 0
    targets = [
        (gateway.public, "/provision/x1"),
        (gateway.internal, "/webhooks/contio"),
        (gateway.internal, "/console/sign-in"),
        (gateway.internal, "/v1/connect-sessions"),
    ]
    for port, path in targets * 4:
        for headers in ([("Transfer-Encoding", "chunked")], [("Content-Length", str(HUGE))]):
            with connect(port) as sock:
                sock.sendall(request_head("POST", path, headers))
                body = zeros(HUGE) if headers[0][0] == "Content-Length" else chunked(zeros(HUGE))
                total += send_stream(sock, body)
                read_reply(sock)
    after = gateway.rss_kib()
    assert after - before < 32 * 1024, (before, after, total)


@pytest.mark.parametrize("listener", ["internal", "public"])
def test_oversized_headers_are_431(gateway: Gateway, listener: str) -> None:
    port = gateway.public if listener == "public" else gateway.internal
    big = request_head("GET", "/healthz", [("X-Big", "a" * MAX_HEADER_BYTES)])
    many = request_head("GET", "/healthz", [(f"X-H{i}", "v") for i in range(MAX_HEADER_COUNT + 1)])
    long_url = request_head("GET", "/healthz?" + "q" * MAX_HEADER_BYTES)
    for head, code in [
        (big, "headers_too_large"),
        (many, "too_many_headers"),
        (long_url, "headers_too_large"),
    ]:
        with connect(port) as sock:
            send_stream(sock, [head])
            reply = read_reply(sock)
        assert reply is not None
        assert reply.status == 431
        assert json.loads(reply.body)["error"]["code"] == code


@pytest.mark.parametrize("listener", ["internal", "public"])
def test_heads_within_the_limits_are_served(gateway: Gateway, listener: str) -> None:
    port = gateway.public if listener == "public" else gateway.internal
    headers = [(f"X-H{i}", "v" * 100) for i in range(MAX_HEADER_COUNT - 2)]
    with connect(port) as sock:
        for _ in range(3):  # and again on the same connection
            sock.sendall(request_head("GET", "/healthz", headers))
            reply = read_reply(sock)
            assert reply is not None
            assert reply.status == 200


@pytest.mark.parametrize("listener", ["internal", "public"])
def test_a_slow_head_is_cut_off(gateway: Gateway, listener: str) -> None:
    port = gateway.public if listener == "public" else gateway.internal
    head = request_head("GET", "/healthz", [("X-Slow", "x" * 200)])
    with connect(port) as sock:
        started = time.monotonic()
        deadline = started + HEADER_TIMEOUT + TIMEOUT_MARGIN
        answer = b""
        closed = False
        # One byte every 20 ms: never idle long, but the head takes 5 s or more.
        for byte in head[:-4]:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            sock.settimeout(0.02)
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                data = b""
            answer += data
            if not data:
                closed = True
                break
            assert time.monotonic() < deadline
        ended = time.monotonic() - started
    assert closed
    assert HEADER_TIMEOUT <= ended < HEADER_TIMEOUT + TIMEOUT_MARGIN
    assert answer.startswith(b"HTTP/1.1 408 ")


@pytest.mark.parametrize("listener", ["internal", "public"])
def test_a_connection_that_sends_nothing_is_closed(gateway: Gateway, listener: str) -> None:
    port = gateway.public if listener == "public" else gateway.internal
    with connect(port, timeout=HEADER_TIMEOUT + TIMEOUT_MARGIN) as sock:
        started = time.monotonic()
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        ended = time.monotonic() - started
    assert HEADER_TIMEOUT <= ended < HEADER_TIMEOUT + TIMEOUT_MARGIN
    assert answer.startswith(b"HTTP/1.1 408 ")
