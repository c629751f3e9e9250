"""``serve --public-port``: browsers reach the connect routes there and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import URL

from gateway.cli import cli
from gateway.kit.crypto import generate_key_entry
from gateway.kit.db import sync_url
from gateway.listeners import is_public
from tests.fixtures.servers import free_port


@pytest.mark.parametrize(
    ("path", "public"),
    [
        ("/connect", True),
        ("/oauth/callback", True),
        ("/provision/abc", True),
        ("/healthz", True),
        ("/connections", False),
        ("/connect/x", False),
        ("/v1/connections", False),
        ("/proxy/users/u/meetings", False),
        ("/metrics", False),
        ("/openapi.json", False),
        ("/readyz", False),
    ],
)
def test_only_browser_facing_paths_are_public(path: str, public: bool) -> None:
    assert is_public(path) is public


@pytest.fixture(scope="module")
def two_listeners(database_url: URL) -> Iterator[tuple[str, str]]:
    internal, public = free_port(), free_port()
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": sync_url(database_url),
        "GATEWAY_ENCRYPTION_KEYS": generate_key_entry("k1"),
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{public}",
        "GATEWAY_LOG_FORMAT": "text",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway",
            "serve",
            "--no-worker",
            "--port",
            str(internal),
            "--public-port",
            str(public),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    urls = (f"http://127.0.0.1:{internal}", f"http://127.0.0.1:{public}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if all(httpx.get(f"{url}/healthz").status_code == 200 for url in urls):
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"serve did not start: {output}")
            time.sleep(0.05)
        yield urls
    finally:
        process.terminate()
        process.wait(10)


def test_the_public_port_serves_the_connect_routes(two_listeners: tuple[str, str]) -> None:
    _, public = two_listeners
    response = httpx.get(f"{public}/connect", params={"token": "nope"})
    assert response.status_code == 400
    assert "text/html" in response.headers["content-type"]


@pytest.mark.parametrize(
    "path",
    ["/metrics", "/openapi.json", "/v1/connect-sessions", "/readyz", "/proxy/users/u/meetings"],
)
def test_the_public_port_hides_everything_else(two_listeners: tuple[str, str], path: str) -> None:
    internal, public = two_listeners
    hidden = httpx.get(f"{public}{path}")
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "not_found"
    assert httpx.get(f"{internal}{path}").status_code != 404


def test_the_same_port_twice_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["serve", "--port", "8123", "--public-port", "8123"])
    assert result.exit_code == 2
    assert "--public-port must differ" in result.output
