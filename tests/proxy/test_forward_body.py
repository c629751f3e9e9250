"""The proxy's request body: kept whole up to the replay buffer, streamed beyond, capped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.types import Message

from gateway.exceptions import PayloadTooLarge
from gateway.proxy.forward import CallerGone, announced_length, read_body
from gateway.proxy.headers import CallerHeaders


def receiver(*chunks: bytes, disconnect: bool = False):  # type: ignore[no-untyped-def]
    messages: Iterator[Message] = iter(
        [
            {"type": "http.request", "body": c, "more_body": disconnect or i < len(chunks) - 1}
            for i, c in enumerate(chunks)
        ]
        + ([{"type": "http.disconnect"}] if disconnect else [])
    )

    async def receive() -> Message:
        return next(messages)

    return receive


def caller(content_length: bytes | None) -> CallerHeaders:
    headers = CallerHeaders()
    headers.content_length = content_length
    return headers


def test_an_announced_length_above_the_cap_is_refused_before_reading() -> None:
    assert announced_length(caller(b"100"), 100) == 100
    assert announced_length(caller(None), 100) is None
    with pytest.raises(PayloadTooLarge) as refused:
        announced_length(caller(b"101"), 100)
    assert refused.value.status_code == 413
    assert refused.value.details == {"limit_bytes": 100}


async def test_a_small_body_is_kept_whole() -> None:
    body = await read_body(None, receiver(b"ab", b"cd"), replay_limit=10, max_bytes=100)
    assert not body.streamed and body.replayable and body.content() == b"abcd"


async def test_a_chunked_body_past_the_cap_within_the_replay_buffer_is_refused() -> None:
    with pytest.raises(PayloadTooLarge):
        await read_body(None, receiver(b"a" * 6, b"b" * 6), replay_limit=100, max_bytes=10)


async def test_a_streamed_body_is_cut_at_the_cap() -> None:
    chunks = [b"x" * 4] * 10
    body = await read_body(None, receiver(*chunks), replay_limit=5, max_bytes=20)
    assert body.streamed
    stream = body.content()
    assert not isinstance(stream, bytes | None)
    taken: list[bytes] = []

    async def drain() -> None:
        async for chunk in stream:
            taken.append(chunk)

    with pytest.raises(PayloadTooLarge) as refused:
        await drain()
    assert len(b"".join(taken)) <= 20
    assert body.refusal is refused.value
    assert not body.finished


async def test_a_streamed_body_within_the_cap_is_sent_whole() -> None:
    chunks = [b"x" * 4] * 5
    body = await read_body(None, receiver(*chunks), replay_limit=5, max_bytes=20)
    stream = body.content()
    assert not isinstance(stream, bytes | None)
    assert b"".join([chunk async for chunk in stream]) == b"x" * 20
    assert body.finished and body.refusal is None


async def test_a_caller_gone_midway_is_not_a_size_refusal() -> None:
    body = await read_body(None, receiver(b"x" * 8, disconnect=True), replay_limit=5, max_bytes=100)
    stream = body.content()
    assert not isinstance(stream, bytes | None)

    async def drain() -> None:
        async for _ in stream:
            pass

    with pytest.raises(CallerGone):
        await drain()
    assert body.refusal is None
