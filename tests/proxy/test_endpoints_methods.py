"""Every method goes through with its body and query string; bodies stream both ways."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.proxy.conftest import bearer
from tests.proxy.upstream import BASE, CHUNK, EchoUpstream

METHODS_WITH_BODY = ["POST", "PUT", "PATCH", "DELETE"]
MB = 1024 * 1024


@pytest.mark.parametrize("method", ["GET", "OPTIONS", *METHODS_WITH_BODY])
async def test_every_method_reaches_the_provider_with_its_body(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str], upstream: EchoUpstream, method: str
) -> None:
    user_id, token = user
    body = b'{"title": "Weekly"}' if method in METHODS_WITH_BODY else b""
    response = await gw.request(
        method,
        f"/proxy/users/{user_id}/echo/{method.lower()}",
        content=body,
        headers={**bearer(key), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["method"] == method
    assert seen["path"] == f"{BASE}/echo/{method.lower()}"
    assert seen["body_length"] == len(body)
    assert seen["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert dict(seen["headers"])["authorization"] == f"Bearer {token}"


async def test_head_returns_the_headers_without_a_body(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str], upstream: EchoUpstream
) -> None:
    user_id, _ = user
    response = await gw.head(f"/proxy/users/{user_id}/download/1000", headers=bearer(key))
    assert response.status_code == 200
    assert response.headers["content-length"] == "1000"
    assert response.content == b""
    assert [s.method for s in upstream.seen("/download/1000")][-1] == "HEAD"


async def test_query_string_passes_unchanged(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str]
) -> None:
    user_id, _ = user
    query = "b=2&a=1&a=%20x&empty=&flag&q=caf%C3%A9+bar&odd=%zz"
    response = await gw.get(f"/proxy/users/{user_id}/echo/q?{query}", headers=bearer(key))
    assert response.json()["query"] == query


async def _generated(size: int) -> AsyncIterator[bytes]:
    block = b"u" * CHUNK
    left = size
    while left > 0:
        piece = block if left >= CHUNK else block[:left]
        left -= len(piece)
        yield piece


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "chunked"])
async def test_a_50_mb_upload_streams_through_without_being_held(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str], upstream: EchoUpstream, announced: bool
) -> None:
    user_id, _ = user
    size = 50 * MB
    headers = {**bearer(key), "Content-Type": "application/octet-stream"}
    if announced:
        headers["Content-Length"] = str(size)
    tracemalloc.start()
    try:
        response = await gw.put(
            f"/proxy/users/{user_id}/echo/upload", content=_generated(size), headers=headers
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["body_length"] == size
    assert seen["body_sha256"] == hashlib.sha256(b"u" * size).hexdigest()
    assert seen["body_chunks"] > 100, "the provider got the body in pieces, as it was sent"
    # Everything in this process (client, gateway, upstream) together stayed far below the body.
    assert peak < 8 * MB, f"peak traced memory {peak / MB:.1f} MB for a 50 MB body"


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "chunked"])
async def test_a_50_mb_download_streams_through_without_being_held(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str], announced: bool
) -> None:
    user_id, _ = user
    size = 50 * MB
    path = f"/proxy/users/{user_id}/download/{size}" + ("" if announced else "?chunked")
    received = 0
    tracemalloc.start()
    try:
        async with gw.stream("GET", path, headers=bearer(key)) as response:
            assert response.status_code == 200
            async for chunk in response.aiter_raw():
                received += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == size
    assert peak < 8 * MB, f"peak traced memory {peak / MB:.1f} MB for a 50 MB body"
