"""A real gateway process and the Contio sandbox on loopback over a database of their own, with two
service clients (one confined to its own users), an operator and a few connected users; and a task
that terminates the gateway's PostgreSQL backends while traffic runs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import URL

from gateway.clients.store import create_client
from gateway.kit.crypto import generate_key_entry
from gateway.kit.db import Database, sync_url
from gateway.models import Connection, ServiceClient
from tests.fixtures.database import fresh_database
from tests.fixtures.servers import free_port
from tests.lifecycle.processes import Process, hermetic_env
from tests.lifecycle.seed import Seeder

WEBHOOK_SECRET = "dbdown-webhook-secret"
CONNECTED_USERS = [f"dbdown-{index}" for index in range(4)]


@dataclass
class Deployment:
    gateway: Process
    database_url: URL
    db: Database
    unconfined_key: str
    confined_key: str
    operator_key: str
    connection_ids: list[uuid.UUID]


async def _client(db: Database, scopes: list[str], *, confined: bool = False) -> str:
    async with db.transaction() as session:
        client, issued = await create_client(
            session, f"dbdown-{uuid.uuid4().hex[:8]}", scopes, ["GET /**"]
        )
        await session.flush()
        if confined:
            await session.execute(
                update(ServiceClient)
                .where(ServiceClient.id == client.id)
                .values(own_users_only=True, user_pattern="dbdown-.*")
            )
    return issued.key


@pytest.fixture(scope="module")
def dbdown_database(server_url: URL) -> Iterator[URL]:
    with fresh_database(server_url, "gw_dbdown") as url:
        yield url


@pytest.fixture(scope="module")
async def deployment(
    dbdown_database: URL, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Deployment]:
    logs = Path(tmp_path_factory.mktemp("dbdown"))
    port, sandbox_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    sandbox = Process(
        "sandbox",
        ["sandbox", "--auto-approve", "--redirect-uri", f"http://127.0.0.1:{port}/oauth/callback"],
        hermetic_env({}),
        logs,
        port=sandbox_port,
        ready_path="/oauth2/health",
    )
    env = hermetic_env(
        {
            "GATEWAY_DATABASE_URL": sync_url(dbdown_database),
            "GATEWAY_DATABASE_POOL_SIZE": "4",
            "GATEWAY_ENCRYPTION_KEYS": generate_key_entry("dbdown"),
            "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "GATEWAY_CONTIO_AUTH_URL": sandbox_url,
            "GATEWAY_CONTIO_API_URL": sandbox_url,
            "GATEWAY_CONTIO_CLIENT_ID": "sandbox-client",
            "GATEWAY_CONTIO_CLIENT_SECRET": "sandbox-secret",
            "GATEWAY_CONTIO_WEBHOOK_SECRETS": WEBHOOK_SECRET,
            "GATEWAY_LOG_LEVEL": "INFO",
        }
    )
    gateway = Process("gateway", ["serve"], env, logs, port=port, ready_path="/readyz")
    db = Database(dbdown_database, pool_size=2)
    try:
        sandbox.start()
        await sandbox.wait_ready()
        gateway.start()
        await gateway.wait_ready()
        await Seeder(env, db).connect(CONNECTED_USERS)
        yield Deployment(
            gateway=gateway,
            database_url=dbdown_database,
            db=db,
            unconfined_key=await _client(db, ["connect", "proxy", "admin"]),
            confined_key=await _client(db, ["connect", "proxy"], confined=True),
            operator_key=await _client(db, ["admin"]),
            connection_ids=await _connection_ids(db),
        )
    finally:
        gateway.stop()
        sandbox.stop()
        await db.dispose()


async def _connection_ids(db: Database) -> list[uuid.UUID]:
    async with db.transaction() as session:
        return list(await session.scalars(select(Connection.id)))


class BackendKiller:
    """Terminates every backend of one database but its own, over and over, until stopped."""

    def __init__(self, database_url: URL, pause: float = 0.02) -> None:
        self._url = database_url
        self._pause = pause
        self.terminated = 0
        self.stop = asyncio.Event()

    async def run(self) -> None:
        admin = await asyncpg.connect(sync_url(self._url.set(database="postgres")))
        try:
            while not self.stop.is_set():
                rows = await admin.fetch(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = $1 AND pid <> pg_backend_pid()",
                    self._url.database,
                )
                self.terminated += sum(1 for row in rows if row[0])
                await asyncio.sleep(self._pause)
        finally:
            await admin.close()
