"""``BodyLimit`` and ``read_body``: a body past its cap is refused at once or as it streams in."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message

from gateway.exceptions import GatewayError, handle_gateway_error
from gateway.kit.request_body import BodyLimit, read_body

CAP = 1000
seen: list[str] = []


async def whole(request: Request) -> Response:
    seen.append("whole")
    return JSONResponse({"size": len(await request.body())})


async def small(request: Request) -> Response:
    return JSONResponse({"size": len(await read_body(request, 100))})


async def exempt(request: Request) -> Response:
    return JSONResponse({"size": len(await request.body())})


def app() -> Starlette:
    return Starlette(
        routes=[
            Route("/whole", whole, methods=["POST"]),
            Route("/small", small, methods=["POST"]),
            Route("/free/x", exempt, methods=["POST"]),
        ],
        middleware=[Middleware(BodyLimit, max_bytes=CAP, exempt=("/free/",))],
        exception_handlers={GatewayError: handle_gateway_error},
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def chunks(count: int, size: int = 100) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield b"x" * size


async def test_a_declared_length_past_the_cap_is_refused_before_the_endpoint(
    client: httpx.AsyncClient,
) -> None:
    seen.clear()
    response = await client.post("/whole", content=b"x" * (CAP + 1))
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "payload_too_large",
        "message": f"The body is larger than {CAP} bytes.",
        "details": {"limit_bytes": CAP},
    }
    assert seen == []


async def test_a_body_at_the_cap_is_read(client: httpx.AsyncClient) -> None:
    response = await client.post("/whole", content=b"x" * CAP)
    assert response.json() == {"size": CAP}


async def test_a_streamed_body_is_cut_at_the_cap(client: httpx.AsyncClient) -> None:
    response = await client.post("/whole", content=chunks(11))
    assert response.status_code == 413
    assert (await client.post("/whole", content=chunks(10))).json() == {"size": 1000}


async def test_an_endpoints_own_cap_is_kept_both_ways(client: httpx.AsyncClient) -> None:
    assert (await client.post("/small", content=b"x" * 101)).status_code == 413
    assert (await client.post("/small", content=chunks(2, 51))).status_code == 413
    assert (await client.post("/small", content=chunks(2, 50))).json() == {"size": 100}


async def test_an_exempt_path_keeps_its_own_cap(client: httpx.AsyncClient) -> None:
    response = await client.post("/free/x", content=b"x" * (CAP * 3))
    assert response.json() == {"size": CAP * 3}


async def test_a_malformed_content_length_is_a_400() -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/whole",
        "headers": [(b"content-length", b"12x")],
    }
    await BodyLimit(app(), max_bytes=CAP)(scope, receive, send)
    assert sent[0]["status"] == 400
