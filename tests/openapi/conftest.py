"""A gateway of its own for the document's tests: the stack's database, sandbox and key ring, with a
webhook secret configured, so that every route can answer as in production."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import URL

from gateway.app import create_app
from gateway.kit.db import Database
from tests.e2e.flows import connect
from tests.fixtures.servers import ServerThread
from tests.fixtures.stack import Stack, new_client

WEBHOOK_SECRET = "whsec-openapi"
# Paths of the sandbox's user API (below the provider's API base): all the proxy may call here.
PROXY_PATHS = ("/profile", "/meetings")
CONNECTED_USER = "openapi-connected"


@pytest.fixture(scope="session")
def gateway(stack: Stack, database_url: URL) -> Iterator[ServerThread]:
    settings = stack.settings.model_copy(
        update={"contio_webhook_secrets": SecretStr(WEBHOOK_SECRET)}
    )
    server = ServerThread(create_app(settings, database_url)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def key(db: Database) -> str:
    """A service key holding every scope the API knows, allowed the proxy's test paths."""
    return await new_client(
        db, ["connect", "proxy", "admin"], [f"GET {path}" for path in PROXY_PATHS]
    )


@pytest.fixture(scope="session")
async def proxy_only_key(db: Database) -> str:
    """A key that may only proxy: the connect, provisioning and admin APIs refuse it."""
    return await new_client(db, ["proxy"])


@pytest.fixture(scope="session")
async def connect_only_key(db: Database) -> str:
    """A key that may not proxy."""
    return await new_client(db, ["connect"])


@pytest.fixture(scope="session")
async def connected_user(stack: Stack, key: str) -> str:
    """``CONNECTED_USER``, connected through the stack's gateway (whose callback the sandbox
    knows); a fixed id, so that the generated requests of test_schemathesis can name it."""
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=10) as http:
        hint = f"{CONNECTED_USER}@example.com"
        response = await connect(http, key, CONNECTED_USER, login_hint=hint)
    assert response.status_code == 200, response.text
    return CONNECTED_USER


@pytest.fixture
async def api(gateway: ServerThread, key: str) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway, authenticated with ``key``."""
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=gateway.url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
async def gateway_http(gateway: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway, without a key."""
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        yield client
