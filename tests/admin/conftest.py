"""The admin API's own gateways beside the shared stack: one that may use Contio's admin API, one
whose provider cannot be reached. Both share the stack's database and key ring, so a user connected
through the stack is visible to them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.engine import URL

from gateway.app import create_app
from gateway.connections.upstream_revocation import UpstreamRevoker
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import AuditEvent, Connection, OutboxEvent
from gateway.providers.registry import build_registry
from gateway.settings import Settings
from gateway.tokens import grant
from tests.e2e.flows import connect_new_user, load_connection
from tests.fixtures.servers import ServerThread, free_port
from tests.fixtures.stack import Stack, new_client

SANDBOX_ADMIN_KEY = "sandbox-admin-key"


def admin_settings(stack: Stack) -> Settings:
    return stack.settings.model_copy(update={"contio_admin_api_key": SecretStr(SANDBOX_ADMIN_KEY)})


def offline_settings(stack: Stack, **overrides: Any) -> Settings:
    """The provider at a port nobody listens on: every call to it fails to connect."""
    nowhere = f"http://127.0.0.1:{free_port()}"
    return admin_settings(stack).model_copy(
        update={"contio_auth_url": nowhere, "contio_api_url": nowhere, **overrides}
    )


@pytest.fixture(scope="session")
def admin_gateway(stack: Stack, database_url: URL) -> Iterator[ServerThread]:
    server = ServerThread(create_app(admin_settings(stack), database_url)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def offline_gateway(stack: Stack, database_url: URL) -> Iterator[ServerThread]:
    server = ServerThread(create_app(offline_settings(stack), database_url)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def admin_key(db: Database) -> str:
    return await new_client(db, ["admin"])


@pytest.fixture
async def admin(admin_gateway: ServerThread, admin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """The admin API, authenticated with an admin-scoped key."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    async with httpx.AsyncClient(base_url=admin_gateway.url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
async def offline_admin(
    offline_gateway: ServerThread, admin_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {admin_key}"}
    async with httpx.AsyncClient(
        base_url=offline_gateway.url, headers=headers, timeout=10
    ) as client:
        yield client


@pytest.fixture(scope="session")
def keys(stack: Stack) -> KeyRing:
    assert stack.settings.encryption_keys is not None
    return KeyRing.parse(stack.settings.encryption_keys.get_secret_value())


@pytest.fixture
async def provider_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def upstream_revoker(
    db: Database, keys: KeyRing, settings: Settings, http: httpx.AsyncClient
) -> UpstreamRevoker:
    """What the worker runs, built as a test needs it (driven directly, never on a timer)."""
    return UpstreamRevoker(db, keys, build_registry(settings, http), settings, http)


async def connected(http: httpx.AsyncClient, key: str, db: Database) -> Connection:
    """A fresh user connected through the stack's gateway, as their connection row."""
    return await load_connection(db, await connect_new_user(http, key))


def tokens_of(keys: KeyRing, connection: Connection) -> tuple[str, str]:
    refresh = grant.refresh_token(keys, connection)
    assert refresh is not None
    return grant.access_token(keys, connection), refresh


async def reload(db: Database, connection_id: uuid.UUID) -> Connection:
    async with db.transaction() as session:
        found = await session.get(Connection, connection_id, populate_existing=True)
    assert found is not None
    return found


async def audit_actions(db: Database, connection_id: uuid.UUID) -> list[tuple[str, str]]:
    """(action, actor) of the connection's audit events, oldest first."""
    async with db.transaction() as session:
        rows = await session.execute(
            select(AuditEvent.action, AuditEvent.actor)
            .where(AuditEvent.connection_id == connection_id)
            .order_by(AuditEvent.occurred_at, AuditEvent.action)
        )
        return [(action, actor) for action, actor in rows]


async def event_types(db: Database, connection_id: uuid.UUID) -> list[str]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(OutboxEvent.type)
            .where(OutboxEvent.data["connection_id"].astext == str(connection_id))
            .order_by(OutboxEvent.occurred_at)
        )
        return list(rows)
