"""A gateway and a sandbox of their own for the client-credentials tests: the sandbox's
client-credentials provider (``/app/...``) is in the gateway's providers file twice, as ``reports``
and as ``reports_faulty`` (whose breaker a test opens, so no other test meets it), and its tokens
live ``TOKEN_TTL`` seconds, so the refresher is seen replacing one before it expires."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import URL

from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import Connection
from gateway.providers.registry import build_registry
from gateway.tokens.refresher import Refresher
from tests.fixtures.stack import Stack, running_stack
from tests.hostile.owner_fixtures import Client

TOKEN_TTL = 8
PROVIDER = "reports"
FAULTY = "reports_faulty"
CREATE = "/v1/connections/client-credentials"


def providers_file(path: Path, sandbox_url: str) -> Path:
    tables = [
        f"""[providers.{name}]
token_url = "{sandbox_url}/app/oauth2/token"
revocation_url = "{sandbox_url}/app/oauth2/revoke"
api_base_url = "{sandbox_url}/app/v1"
client_id = "sandbox-client"
client_secret = "sandbox-secret"
token_endpoint_auth_method = "{method}"
grant_types = ["client_credentials"]
"""
        for name, method in ((PROVIDER, "client_secret_post"), (FAULTY, "client_secret_basic"))
    ]
    path.write_text("\n".join(tables))
    return path


@pytest.fixture(scope="module")
def cc_stack(database_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("providers")

    def settings(sandbox_url: str) -> dict[str, object]:
        return {
            "providers_file": providers_file(folder / "providers.toml", sandbox_url),
            "providers_allow_loopback_http": True,
        }

    sandbox = {"access_token_ttl": TOKEN_TTL}
    with running_stack(database_url, sandbox=sandbox, settings=settings) as running:
        yield running


@pytest.fixture
async def gw(cc_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=cc_stack.gateway.url, timeout=10) as client:
        yield client


@pytest.fixture
async def provider_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def keys_of(stack: Stack) -> KeyRing:
    assert stack.settings.encryption_keys is not None
    return KeyRing.parse(stack.settings.encryption_keys.get_secret_value())


def refresher_of(db: Database, stack: Stack, http: httpx.AsyncClient) -> Refresher:
    return Refresher(db, keys_of(stack), build_registry(stack.settings, http), stack.settings)


def exchanges(stack: Stack) -> int:
    count: int = stack.sandbox_store.counters.snapshot()["client_credentials_exchanges"]
    return count


async def create(
    gw: httpx.AsyncClient, client: Client, user_id: str, **body: Any
) -> httpx.Response:
    return await gw.post(
        CREATE, json={"user_id": user_id, "provider": PROVIDER, **body}, headers=client.auth
    )


async def created(gw: httpx.AsyncClient, client: Client, user_id: str, **body: Any) -> str:
    """A new client-credentials connection's id."""
    answer = await create(gw, client, user_id, **body)
    assert answer.status_code == 201, answer.text
    connection_id: str = answer.json()["id"]
    return connection_id


async def row(db: Database, connection_id: str) -> Connection:
    async with db.transaction() as session:
        found = await session.get(Connection, uuid.UUID(connection_id), populate_existing=True)
    assert found is not None
    return found
