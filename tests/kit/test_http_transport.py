"""The provider client's transport (httpx over aiohttp) against real servers on loopback: a request
goes as httpx built it, the response comes back as httpx's own transport would hand it over, and
each failure is httpx's error for it; the provider client built on it keeps no cookie."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from gateway import composition
from gateway.kit.http_transport import AiohttpTransport
from gateway.settings import Settings
from tests.fixtures.servers import ServerThread, free_port, serving


async def echo(request: Request) -> Response:
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "authorization": request.headers.get("authorization"),
            "content_type": request.headers.get("content-type"),
            "cookie": request.headers.get("cookie"),
            "body": (await request.body()).decode(),
        },
        headers={"set-cookie": "session=kept-by-no-one", "x-answer": "yes"},
    )


async def compressed(_request: Request) -> Response:
    return Response(
        gzip.compress(b'{"access_token": "at"}'),
        media_type="application/json",
        headers={"content-encoding": "gzip"},
    )


async def elsewhere(_request: Request) -> Response:
    return RedirectResponse("/echo", status_code=302)


async def slow(_request: Request) -> Response:
    await asyncio.sleep(2)
    return Response("late")


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    app = Starlette(
        routes=[
            Route("/echo", echo, methods=["GET", "POST"]),
            Route("/compressed", compressed),
            Route("/elsewhere", elsewhere),
            Route("/slow", slow),
        ]
    )
    with serving(app) as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=AiohttpTransport(), timeout=httpx.Timeout(0.5), follow_redirects=False
    ) as http:
        yield http


async def test_a_form_post_arrives_as_httpx_built_it(
    server: ServerThread, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        f"{server.url}/echo?a=1&b=%2F",
        data={"grant_type": "refresh_token", "refresh_token": "r t"},
        headers={"Authorization": "Basic abc"},
    )

    assert response.status_code == 200
    assert response.headers["x-answer"] == "yes"
    assert response.json() == {
        "method": "POST",
        "path": "/echo",
        "query": "a=1&b=%2F",
        "authorization": "Basic abc",
        "content_type": "application/x-www-form-urlencoded",
        "cookie": None,
        "body": "grant_type=refresh_token&refresh_token=r+t",
    }


async def test_no_cookie_is_kept_between_requests(
    server: ServerThread, client: httpx.AsyncClient
) -> None:
    first = await client.get(f"{server.url}/echo")
    assert first.headers["set-cookie"].startswith("session=")

    client.cookies.clear()  # httpx's own jar: what the transport keeps is what is tested
    second = await client.get(f"{server.url}/echo")

    assert second.json()["cookie"] is None


async def test_a_compressed_body_is_decoded_by_httpx(
    server: ServerThread, client: httpx.AsyncClient
) -> None:
    response = await client.get(f"{server.url}/compressed")

    assert response.json() == {"access_token": "at"}


async def test_a_redirect_is_handed_back_not_followed(
    server: ServerThread, client: httpx.AsyncClient
) -> None:
    response = await client.get(f"{server.url}/elsewhere")

    assert response.status_code == 302
    assert response.headers["location"] == "/echo"


async def test_an_answer_slower_than_the_read_timeout_is_a_read_timeout(
    server: ServerThread, client: httpx.AsyncClient
) -> None:
    with pytest.raises(httpx.ReadTimeout):
        await client.get(f"{server.url}/slow")


async def test_a_closed_port_is_a_connect_error(client: httpx.AsyncClient) -> None:
    with pytest.raises(httpx.ConnectError):
        await client.get(f"http://127.0.0.1:{free_port()}/")


@pytest.fixture
def hangs_up() -> Iterator[str]:
    """A server that reads the request and closes the connection without a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


async def test_a_connection_closed_before_the_answer_is_a_read_error(
    hangs_up: str, client: httpx.AsyncClient
) -> None:
    with pytest.raises(httpx.ReadError):
        await client.post(f"{hangs_up}/token", data={"grant_type": "refresh_token"})


async def test_the_provider_client_keeps_no_cookie_between_users_calls(
    server: ServerThread,
) -> None:
    async with composition.provider_http(Settings()) as http:
        first = await http.get(f"{server.url}/echo", headers={"Authorization": "Bearer user-a"})
        second = await http.get(f"{server.url}/echo", headers={"Authorization": "Bearer user-b"})

    assert first.headers["set-cookie"].startswith("session=")
    assert second.json()["cookie"] is None
