"""A gateway with a provider of each kind in front of one sandbox, for the operator surface's tests:
Contio (users' OAuth grants, from the settings), the stored-credential providers of
``stored_fixtures`` (among them ``keyed``: API keys checked with a verification request, and
``keyed-unchecked``: API keys without one), ``reports`` and
``reports-faulty`` (the sandbox's client-credentials provider; a test trips the second's breaker,
so no other test meets it).

Each test's API key is its own (``fresh_key``), so revoking one at the sandbox touches no other
test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import URL

from gateway.kit.db import Database
from gateway.models import AuditEvent, Connection
from tests.connections import stored_fixtures
from tests.fixtures.stack import Stack, running_stack
from tests.hostile.owner_fixtures import Client, Clients, account, connect_as, rows

KEYED = "keyed"
UNCHECKED = "keyed-unchecked"
REPORTS = "reports"
FAULTY = "reports-faulty"

CLIENT_CREDENTIALS = """
[providers.{name}]
token_url = "{sandbox}/app/oauth2/token"
revocation_url = "{sandbox}/app/oauth2/revoke"
api_base_url = "{sandbox}/app/v1"
client_id = "sandbox-client"
client_secret = "sandbox-secret"
token_endpoint_auth_method = "client_secret_post"
grant_types = ["client_credentials"]
"""


def providers_file(path: Path, sandbox: str) -> Path:
    tables = [stored_fixtures.PROVIDERS.format(sandbox=sandbox)]
    tables += [CLIENT_CREDENTIALS.format(name=name, sandbox=sandbox) for name in (REPORTS, FAULTY)]
    path.write_text("\n".join(tables))
    return path


@pytest.fixture(scope="module")
def kinds_stack(database_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("providers")

    def settings(sandbox_url: str) -> dict[str, object]:
        return {
            "providers_file": providers_file(folder / "providers.toml", sandbox_url),
            "providers_allow_loopback_http": True,
        }

    with running_stack(database_url, settings=settings) as running:
        yield running


@pytest.fixture
async def gw(kinds_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=kinds_stack.gateway.url, timeout=10) as client:
        yield client


@pytest.fixture
async def sandbox(kinds_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=kinds_stack.sandbox.url, timeout=10) as client:
        yield client


async def fresh_key(sandbox: httpx.AsyncClient) -> str:
    """An API key the sandbox's keyed API accepts from now on, this test's alone."""
    key = f"sk_test_{uuid.uuid4().hex}"
    added = await sandbox.post("/_sandbox/api-keys", json={"api_key": key})
    assert added.status_code == 204, added.text
    return key


async def revoke_key(sandbox: httpx.AsyncClient, key: str) -> None:
    """The provider stops taking ``key`` (its user revoked it there)."""
    revoked = await sandbox.post("/_sandbox/api-keys/revoke", json={"api_key": key})
    assert revoked.status_code == 204, revoked.text


async def row(db: Database, connection_id: str) -> Connection:
    async with db.transaction() as session:
        found = await session.get(Connection, uuid.UUID(connection_id), populate_existing=True)
    assert found is not None
    return found


async def audited(db: Database, connection_id: str, action: str) -> list[AuditEvent]:
    """The audit entries of ``action`` about the connection, oldest first."""
    async with db.transaction() as session:
        found = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.connection_id == uuid.UUID(connection_id))
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.occurred_at)
        )
        return list(found)


async def store_key(
    gw: httpx.AsyncClient, clients: Clients, user_id: str, key: str, **body: Any
) -> str:
    """A stored-credential connection, supplied by an operator; its id."""
    answer = await gw.post(
        "/v1/connections/credentials",
        json={"user_id": user_id, "provider": KEYED, "api_key": key, **body},
        headers=clients.operator.auth,
    )
    assert answer.status_code == 201, answer.text
    connection_id: str = answer.json()["id"]
    return connection_id


async def create_app_connection(
    gw: httpx.AsyncClient, client: Client, user_id: str, provider: str = REPORTS
) -> str:
    answer = await gw.post(
        "/v1/connections/client-credentials",
        json={"user_id": user_id, "provider": provider, "scopes": ["reports:read"]},
        headers=client.auth,
    )
    assert answer.status_code == 201, answer.text
    connection_id: str = answer.json()["id"]
    return connection_id


async def connect_user(
    gw: httpx.AsyncClient, db: Database, client: Client, user_id: str, email: str | None = None
) -> str:
    """A user's OAuth connection, through the whole connect flow (signing in at the sandbox as
    ``email``, a fresh account by default); its id."""
    connected = await connect_as(gw, client, user_id, email or account())
    assert connected.status_code == 200, connected.text
    [connection] = await rows(db, user_id)
    return str(connection.id)
