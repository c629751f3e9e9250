"""A second gateway whose provider's API is a loopback ``EchoUpstream``, for the proxy's own tests.

It shares the database and the key ring with the e2e stack's gateway (whose provider is the Contio
sandbox), so users connected through either are seen by both: that is also how the cache
invalidation tests get their two gateways. Connections for the echo tests are written straight into
the database (``seed_user``); the tests that need a real refresh connect through the sandbox.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import URL

from gateway.clients.store import ClientChanges, create_client, update_client
from gateway.connections import store
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.providers.token_response import TokenSet
from gateway.settings import Settings
from tests.fixtures.servers import ServerThread, free_port
from tests.fixtures.stack import Stack, beside_the_stack, new_client
from tests.proxy.upstream import EchoUpstream

DEAD = "dead"


@dataclass
class EchoGateway:
    gateway: ServerThread
    upstream: EchoUpstream
    upstream_server: ServerThread
    settings: Settings
    keys: KeyRing


@pytest.fixture(scope="session")
def echo_gateway(
    stack: Stack, database_url: URL, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EchoGateway]:
    upstream = EchoUpstream()
    upstream_server = ServerThread(upstream, lifespan="off").start()
    providers_file = Path(tmp_path_factory.mktemp("providers")) / "providers.toml"
    # A provider whose API nobody listens on: the unreachable-upstream tests.
    providers_file.write_text(
        f"""
[providers.{DEAD}]
authorize_url = "http://127.0.0.1:9/authorize"
token_url = "http://127.0.0.1:9/token"
api_base_url = "http://127.0.0.1:{free_port()}/api"
client_id = "gateway"
client_secret = "not-used"
"""
    )
    gateway, settings = beside_the_stack(
        stack,
        database_url,
        providers_file,
        free_port(),
        contio_api_url=upstream_server.url,
        proxy_retry_base_seconds=0.01,
        proxy_retry_max_seconds=0.05,
        proxy_read_timeout_seconds=0.5,
        database_pool_size=3,
    )
    assert settings.encryption_keys is not None
    keys = KeyRing.parse(settings.encryption_keys.get_secret_value())
    try:
        yield EchoGateway(gateway, upstream, upstream_server, settings, keys)
    finally:
        gateway.stop()
        upstream_server.stop()


@pytest.fixture
async def gw(echo_gateway: EchoGateway) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the echo gateway."""
    async with httpx.AsyncClient(base_url=echo_gateway.gateway.url, timeout=30) as client:
        yield client


@pytest.fixture
def upstream(echo_gateway: EchoGateway) -> EchoUpstream:
    return echo_gateway.upstream


async def seed_user(
    db: Database,
    echo: EchoGateway,
    *,
    client_id: uuid.UUID | None = None,
    provider: str = "contio",
    user_id: str | None = None,
    space: uuid.UUID | None = None,
    additional: bool = False,
) -> tuple[str, str]:
    """A user with an active connection (written directly), owned by ``client_id`` in ``space``
    (with ``additional``, another account's beside the user's default one); returns the user id
    and the token."""
    user_id = user_id or f"user-{uuid.uuid4().hex[:10]}"
    token = f"tok-{uuid.uuid4().hex}"
    async with db.transaction() as session:
        await store.save_grant(
            session,
            echo.keys,
            user_id=user_id,
            provider=provider,
            subject=f"sub-{user_id}" if not additional else f"sub-{token}",
            tokens=TokenSet(
                access_token=SecretStr(token),
                refresh_token=SecretStr(f"refresh-{token}"),
                expires_in=3600,
                scopes=None,
                id_token=None,
                token_type="Bearer",
            ),
            client_id=client_id,
            settings=echo.settings,
            owner=client_id,
            space=space,
            additional=additional,
        )
    return user_id, token


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def key(db: Database) -> str:
    """A service key that may proxy anything."""
    return await new_client(db, ["proxy"], ["* /**"])


@pytest.fixture
async def user(db: Database, echo_gateway: EchoGateway) -> tuple[str, str]:
    """A connected user of the echo provider: their id and access token."""
    return await seed_user(db, echo_gateway)


@dataclass(frozen=True)
class Client:
    id: uuid.UUID
    name: str
    key: str


async def make_client(
    db: Database, allow: list[str], scopes: tuple[str, ...] = ("proxy",), **changes: Any
) -> Client:
    """A fresh service client with ``ClientChanges(**changes)`` applied."""
    name = f"svc-{uuid.uuid4().hex[:10]}"
    async with db.transaction() as session:
        created, issued = await create_client(session, name, scopes, allow)
        if changes:
            await update_client(session, name, ClientChanges(**changes))
    return Client(created.id, name, issued.key)


async def change_client(db: Database, name: str, **changes: Any) -> None:
    async with db.transaction() as session:
        await update_client(session, name, ClientChanges(**changes))


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float, what: str) -> float:
    """Poll ``check`` until it holds (returns the seconds it took); fail after ``within``."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - started
