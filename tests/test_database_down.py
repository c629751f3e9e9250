"""With its database unreachable the gateway answers 503 database_unavailable, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from gateway.app import create_app
from gateway.kit.db import async_url
from tests.fixtures.servers import ServerThread, free_port, serving
from tests.fixtures.stack import Stack, gateway_settings


@pytest.fixture(scope="module")
def cut_off(stack: Stack) -> Iterator[ServerThread]:
    nowhere = async_url(f"postgresql://postgres@127.0.0.1:{free_port()}/gone")
    port = free_port()
    settings = gateway_settings(port, stack.sandbox.url)
    with serving(create_app(settings, nowhere), port=port) as server:
        yield server


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/connections"),
        ("POST", "/v1/connect-sessions"),
        ("GET", "/proxy/users/alice/meetings"),
        ("GET", "/connect?token=whatever"),
    ],
)
def test_requests_that_need_the_database_get_503(
    cut_off: ServerThread, method: str, path: str
) -> None:
    response = httpx.request(
        method,
        f"{cut_off.url}{path}",
        headers={"Authorization": "Bearer gw_" + "x" * 43, "Accept": "application/json"},
        json={} if method == "POST" else None,
        timeout=30,
    )
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "database_unavailable"
    assert (response.headers["Retry-After"], response.headers["Gateway-Error"]) == ("1", "1")


def test_liveness_stays_up_and_readiness_says_why(cut_off: ServerThread) -> None:
    assert httpx.get(f"{cut_off.url}/healthz").status_code == 200
    ready = httpx.get(f"{cut_off.url}/readyz", timeout=30)
    assert (ready.status_code, ready.json()["error"]["code"]) == (503, "database_unavailable")
