"""Liveness, readiness (including an unmigrated database) and the OpenAPI document."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import URL
from starlette.routing import Route

from gateway.app import create_app
from gateway.console.routes import console
from gateway.kit.db import sync_url
from gateway.kit.feed import APPLICATION_NAME
from gateway.kit.migrations import head_revision
from gateway.openapi import build
from gateway.routes import routes
from tests.fixtures.database import fresh_database
from tests.fixtures.servers import ServerThread, serving
from tests.fixtures.stack import Stack, gateway_settings


async def test_healthz_answers_ok(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_the_schema_revision(http: httpx.AsyncClient) -> None:
    response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json()["schema_revision"] == head_revision()


@pytest.fixture
def feed_database(server_url: URL) -> Iterator[URL]:
    with fresh_database(server_url, "gw_feed_ready") as url:
        yield url


async def feed_state(client: httpx.AsyncClient, *, listening: bool) -> datetime:
    """Poll ``/readyz`` (ready throughout) until its change feed is ``listening`` or not; returns
    the ``since`` it reports then."""
    deadline = time.monotonic() + 30
    while True:
        response = await client.get("/readyz")
        assert response.status_code == 200, response.text
        feed = response.json()["change_feed"]
        if feed["listening"] is listening:
            return datetime.fromisoformat(feed["since"])
        assert time.monotonic() < deadline, f"the change feed never reported listening={listening}"
        await asyncio.sleep(0.05)


async def test_readyz_reports_the_change_feed_down_and_back_and_stays_ready(
    stack: Stack, server_url: URL, feed_database: URL
) -> None:
    name = feed_database.database
    admin = await asyncpg.connect(sync_url(server_url))
    try:
        with serving(create_app(stack.settings, feed_database)) as server:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                listening_since = await feed_state(client, listening=True)
                try:
                    # The feed cannot reconnect; the pool's connections stay, so /readyz answers.
                    await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                    await admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = $1 AND datname = $2",
                        APPLICATION_NAME,
                        name,
                    )
                    down_since = await feed_state(client, listening=False)
                finally:
                    await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
                back_since = await feed_state(client, listening=True)
    finally:
        await admin.close()
    assert listening_since < down_since < back_since


@pytest.fixture
def unmigrated_gateway(server_url: URL, stack: Stack) -> Iterator[str]:
    settings = gateway_settings(0, stack.sandbox.url)
    with fresh_database(server_url, "gw_empty", migrate=False) as url:
        server = ServerThread(create_app(settings, url)).start()
        try:
            yield server.url
        finally:
            server.stop()


def test_readyz_is_503_until_migrated(unmigrated_gateway: str) -> None:
    response = httpx.get(f"{unmigrated_gateway}/readyz")
    assert response.status_code == 503
    assert response.headers["gateway-error"] == "1"
    body = response.json()["error"]
    assert body["code"] == "schema_outdated"
    assert body["details"] == {"database_revision": None, "required_revision": head_revision()}


async def test_unknown_route_uses_the_error_shape(http: httpx.AsyncClient) -> None:
    response = await http.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_openapi_document_is_served(http: httpx.AsyncClient) -> None:
    document = (await http.get("/openapi.json")).json()
    assert document["openapi"] == "3.1.0"


def _openapi_path(route_path: str) -> str:
    return route_path.replace("{path:path}", "{path}")


def test_every_route_is_described_in_openapi() -> None:
    paths = build()["paths"]
    for route in routes:
        # The console is HTML pages for people signed in with a browser session, not an API.
        if route is console:
            continue
        assert isinstance(route, Route)
        described = paths.get(_openapi_path(route.path))
        assert described is not None, f"{route.path} is missing from the OpenAPI document"
        for method in route.methods or ():
            if method != "HEAD":
                assert method.lower() in described, f"{method} {route.path} is not described"


def test_every_error_code_raised_by_connect_is_documented() -> None:
    import re
    from pathlib import Path

    import gateway.connect.endpoints as module

    source = Path(module.__file__).read_text()
    raised = set(re.findall(r'ConnectFailure\(\s*"([a-z_]+)"', source))
    documented = str(build()["paths"]["/oauth/callback"]) + str(build()["paths"]["/connect"])
    assert raised, "found no ConnectFailure codes: the test would prove nothing"
    for code in raised:
        assert code in documented, f"{code} is not in the OpenAPI document"
