"""A gateway whose key ring is ``old,new`` with ``new`` active, on a database of its own (``kdb``,
emptied of connections before each test), as after a key change before the rotation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import URL

from gateway.app import create_app
from gateway.kit.db import Database
from gateway.settings import Settings
from tests.fixtures.database import fresh_database
from tests.fixtures.servers import ServerThread, free_port
from tests.fixtures.stack import Stack
from tests.keys.test_rotation import NEW, OLD


@pytest.fixture(scope="module")
def keys_url(server_url: URL) -> Iterator[URL]:
    with fresh_database(server_url, "gw_keys_api") as url:
        yield url


@pytest.fixture(scope="module")
def rotating_settings(stack: Stack) -> Settings:
    port = free_port()
    return stack.settings.model_copy(
        update={
            "public_url": f"http://127.0.0.1:{port}",
            "encryption_keys": SecretStr(f"{OLD},{NEW}"),
            "encryption_active_key": "new",
        }
    )


@pytest.fixture(scope="module")
def rotating_gateway(rotating_settings: Settings, keys_url: URL) -> Iterator[ServerThread]:
    port = int(rotating_settings.public_url.rsplit(":", 1)[1])
    server = ServerThread(create_app(rotating_settings, keys_url), port=port).start()
    yield server
    server.stop()


@pytest.fixture
async def kdb(keys_url: URL) -> AsyncIterator[Database]:
    database = Database(keys_url, pool_size=4)
    async with database.transaction() as session:
        await session.execute(text("TRUNCATE connections CASCADE"))
    yield database
    await database.dispose()


@pytest.fixture
async def api(rotating_gateway: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=rotating_gateway.url, timeout=30) as client:
        yield client
