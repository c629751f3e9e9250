"""The public listener, probed from the internet's side on a real ``gateway serve --public-port``:
exactly the routes the internet must reach answer there (a browser's connect, callback and
provisioning page, the provider's webhooks and the gateway's public keys, the load balancer's
health check), and every other
route, method and path, however spelled, is a 404 in the error shape."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx
import pytest

from tests.fixtures.ports import Ports
from tests.openapi.routes import Operation, concrete, operations

PUBLIC: set[Operation] = {
    ("GET", "/healthz"),
    ("HEAD", "/healthz"),
    ("GET", "/connect"),
    ("HEAD", "/connect"),
    ("GET", "/oauth/callback"),
    ("HEAD", "/oauth/callback"),
    ("GET", "/provision/{provisioning_id}"),
    ("HEAD", "/provision/{provisioning_id}"),
    ("POST", "/provision/{provisioning_id}"),
    ("POST", "/webhooks/contio"),
    ("GET", "/.well-known/jwks.json"),
    ("HEAD", "/.well-known/jwks.json"),
}


def hidden(response: httpx.Response) -> bool:
    """The public listener's refusal: 404 not_found in the error shape (a HEAD has no body)."""
    if response.status_code != 404 or response.headers.get("gateway-error") != "1":
        return False
    if not response.headers.get("content-type", "").startswith("application/json"):
        return False
    return response.request.method == "HEAD" or response.json()["error"]["code"] == "not_found"


async def test_exactly_the_internet_facing_routes_answer_on_the_public_port(
    ports: Ports,
) -> None:
    served: set[Operation] = set()
    async with httpx.AsyncClient(timeout=10) as http:
        for method, path in operations():
            target = concrete(path)
            internal = await http.request(method, ports.url + target)
            public = await http.request(method, ports.public_url + target)
            where = f"{method} {path}"
            assert not hidden(internal), f"{where}: the probe did not reach the route"
            assert internal.status_code < 500 and public.status_code < 500, where
            if not hidden(public):
                # The same route answers alike on both ports.
                assert public.status_code == internal.status_code, where
                served.add((method, path))
    assert served == PUBLIC


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/connect"),
        ("PUT", "/oauth/callback"),
        ("GET", "/webhooks/contio"),
        ("DELETE", "/provision/00000000-0000-4000-8000-000000000001"),
        ("POST", "/healthz"),
        ("OPTIONS", "/connect"),
    ],
)
async def test_a_public_path_with_another_method_is_a_404_there(
    ports: Ports, method: str, path: str
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        assert hidden(await http.request(method, ports.public_url + path))
        internal = await http.request(method, ports.url + path)
    assert internal.status_code == 405


async def raw_status(url: str, target: str) -> int:
    """The status of ``GET target`` sent byte for byte (no client normalises the path first)."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(
            f"GET {target} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    return int(status_line.split()[1])


@pytest.mark.parametrize(
    "target",
    [
        "/provision/../metrics",
        "/provision/%2e%2e/v1/connections",
        "/provision/x/../../v1/connections",
        "/connect/../metrics",
        "/healthz/../console/sign-in",
        "//metrics",
        "/webhooks/contio/../../metrics",
        "/provision/../proxy/users/probe-user/profile",
        "http://127.0.0.1/metrics",
        "/METRICS",
        "/Connect",
    ],
)
async def test_dot_segments_and_odd_spellings_reach_nothing_hidden(
    ports: Ports, target: str
) -> None:
    assert await raw_status(ports.public_url, target) == 404
