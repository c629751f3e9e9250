"""The upstream client's failures, as the rest of the proxy sees them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from starlette.types import Message

from gateway.providers.profile import DEFAULT_PROFILE
from gateway.proxy.errors import UpstreamTimeout, UpstreamUnreachable
from gateway.proxy.forward import Forwarder, RequestBody, RetryPolicy, UpstreamRequest
from gateway.proxy.headers import CallerHeaders
from gateway.proxy.injection import Injection
from gateway.proxy.upstream import AiohttpUpstream, RawResponse, Watchdog, translate
from tests.fixtures.servers import free_port

BEARER = Injection.of("token", None, DEFAULT_PROFILE, {})


@pytest.fixture
async def upstream() -> AsyncIterator[AiohttpUpstream]:
    watchdog, stop = Watchdog(), asyncio.Event()
    watching = asyncio.create_task(watchdog.run(stop))
    client = AiohttpUpstream(
        connect_timeout=1.0,
        read_timeout=0.2,
        max_connections=4,
        default_headers={},
        watchdog=watchdog,
    )
    yield client
    await client.aclose()
    stop.set()
    await watching


async def test_a_refused_connection_is_unreachable_before_sending(
    upstream: AiohttpUpstream,
) -> None:
    with pytest.raises(UpstreamUnreachable) as caught:
        await upstream.send("POST", f"http://127.0.0.1:{free_port()}/x", [], b"{}")
    assert caught.value.before_sending
    assert caught.value.status_code == 502


async def test_a_silent_server_is_a_timeout_after_the_read_timeout(
    upstream: AiohttpUpstream,
) -> None:
    """The upstream client waits as long as it is let; the exchange bounds the wait for the
    answer by the read timeout, well within the total deadline."""

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        await asyncio.sleep(5)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    policy = RetryPolicy(max_attempts=1, base_seconds=0, max_seconds=0, total_seconds=60)
    forwarder = Forwarder(upstream, policy, 1024, upstream._watchdog, read_timeout=0.2)
    request = UpstreamRequest(
        "GET", f"http://127.0.0.1:{port}/x", CallerHeaders(), "req-1", RequestBody(b""), True
    )
    began = time.monotonic()
    try:
        with pytest.raises(UpstreamTimeout) as caught:
            await forwarder.exchange(request, BEARER, forwarder.deadline())
    finally:
        server.close()
    assert not caught.value.before_sending
    assert caught.value.status_code == 504
    assert time.monotonic() - began < 5  # the read timeout's doing, not the server hanging up


async def test_a_connection_closed_before_the_answer_is_unreachable_after_sending(
    upstream: AiohttpUpstream,
) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(UpstreamUnreachable) as caught:
            await upstream.send("POST", f"http://127.0.0.1:{port}/x", [], b"{}")
    finally:
        server.close()
    assert not caught.value.before_sending


async def test_a_slow_streamed_upload_is_not_cut_by_the_read_timeout(
    upstream: AiohttpUpstream,
) -> None:
    async def answer_when_all_came(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.readuntil(b"0\r\n\r\n")  # the chunked body's end
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    parts = iter([b"part"] * 4)

    async def slowly() -> Message:
        await asyncio.sleep(0.1)  # the caller's upload, slower in all than the 0.2 s timeout
        part = next(parts, b"")
        return {"type": "http.request", "body": part, "more_body": bool(part)}

    server = await asyncio.start_server(answer_when_all_came, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    policy = RetryPolicy(max_attempts=1, base_seconds=0, max_seconds=0, total_seconds=60)
    forwarder = Forwarder(upstream, policy, 1024, upstream._watchdog, read_timeout=0.2)
    request = UpstreamRequest(
        "POST",
        f"http://127.0.0.1:{port}/x",
        CallerHeaders(),
        "req-1",
        RequestBody(None, receive=slowly),
        False,
    )
    try:
        answer = await forwarder.exchange(request, BEARER, forwarder.deadline())
        try:
            assert (answer.status, answer.head, answer.complete) == (200, b"ok", True)
        finally:
            answer.response.close()
    finally:
        server.close()


async def drain(response: RawResponse) -> None:
    async for _ in response.rest():
        pass


async def test_a_body_that_stops_coming_is_a_timeout(upstream: AiohttpUpstream) -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 10)
        await writer.drain()
        await asyncio.sleep(5)

    server = await asyncio.start_server(stall, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        response = await upstream.send("GET", f"http://127.0.0.1:{port}/x", [], None)
        try:
            head, complete = await response.read_head(5)
            assert (head, complete) == (b"x" * 10, False)
            with pytest.raises(UpstreamTimeout):
                await asyncio.wait_for(drain(response), 3)  # the read timeout is 0.2 s
        finally:
            response.close()
    finally:
        server.close()


@pytest.mark.parametrize(
    ("error", "kind", "before_sending"),
    [
        (aiohttp.ConnectionTimeoutError(), UpstreamTimeout, True),
        (aiohttp.SocketTimeoutError(), UpstreamTimeout, False),
        (aiohttp.ServerDisconnectedError(), UpstreamUnreachable, False),
        (aiohttp.ClientPayloadError("cut short"), UpstreamUnreachable, False),
        (TimeoutError(), UpstreamTimeout, False),
    ],
)
def test_aiohttp_errors_become_ours(
    error: BaseException, kind: type[Exception], before_sending: bool
) -> None:
    translated = translate(error)
    assert isinstance(translated, kind)
    assert translated.before_sending is before_sending


async def test_urls_pass_as_given_and_only_query_less_ones_are_kept_parsed(
    upstream: AiohttpUpstream,
) -> None:
    targets: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while request := await reader.readuntil(b"\r\n\r\n"):
            targets.append(request.split(b" ")[1])
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            await writer.drain()
            if len(targets) == 6:
                break
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    sent = [
        "/users/a%2Fb/meetings",
        "/users/a%2Fb/meetings",
        "/users/c/meetings?limit=2&q=a%20b",
        "/users/c/meetings?limit=3",
        "/users/%7Ed/items/",
        "/users/a%2Fb/meetings",
    ]
    try:
        for path in sent:
            response = await upstream.send("GET", base + path, [], None)
            assert response.status == 204
            response.close()
    finally:
        server.close()

    assert targets == [path.encode() for path in sent]  # encoding and query untouched
    assert sorted(upstream._urls) == [base + "/users/%7Ed/items/", base + "/users/a%2Fb/meetings"]
