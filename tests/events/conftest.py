"""Fixtures for the events tests: a database of the outbox's own and a receiver of signed events."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import asyncpg
import pytest
from sqlalchemy.engine import URL
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.events import signing
from gateway.kit.db import Database
from gateway.kit.migrations import upgrade
from tests.fixtures.servers import serving

SECRETS = ("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=",)  # 32 x "A"


async def _admin(url: URL, statement: str) -> None:
    conn = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(False))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def outbox_database_url(server_url: URL) -> Iterator[URL]:
    """The deliverer works on committed rows across the whole table, so it gets a database alone."""
    name = f"gw_events_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    url = server_url.set(database=name)
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
async def outbox_db(outbox_database_url: URL) -> AsyncIterator[Database]:
    database = Database(outbox_database_url, pool_size=4)
    yield database
    await database.dispose()


@dataclass
class Receiver:
    """Records the ``webhook-id`` of every delivery whose signature verifies."""

    url: str
    received: list[str] = field(default_factory=list)
    rejected: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            self.received.clear()
            self.rejected = 0


def receiver_app(receiver: Receiver) -> Starlette:
    async def ok(request: Request) -> Response:
        body = await request.body()
        try:
            signing.verify(SECRETS, request.headers, body)
        except signing.SignatureError:
            with receiver.lock:
                receiver.rejected += 1
            return Response(status_code=400)
        await asyncio.sleep(0.02)  # lets concurrent passes overlap
        with receiver.lock:
            receiver.received.append(request.headers["webhook-id"])
        return Response(status_code=204)

    async def fail(request: Request) -> Response:
        await request.body()
        return Response(status_code=500)

    return Starlette(
        routes=[Route("/ok", ok, methods=["POST"]), Route("/fail", fail, methods=["POST"])]
    )


@pytest.fixture(scope="session")
def receiver_server() -> Iterator[Receiver]:
    receiver = Receiver(url="")
    with serving(receiver_app(receiver)) as server:
        receiver.url = server.url
        yield receiver


@pytest.fixture
def receiver(receiver_server: Receiver) -> Receiver:
    receiver_server.clear()
    return receiver_server
