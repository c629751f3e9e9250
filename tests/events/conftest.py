"""Fixtures for the events tests: a database of the outbox's own and a receiver of signed events."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy.engine import URL
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.events import signing
from gateway.kit.db import Database
from tests.fixtures.database import fresh_database
from tests.fixtures.servers import serving

SECRETS = ("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=",)  # 32 x "A"


@pytest.fixture(scope="session")
def outbox_database_url(server_url: URL) -> Iterator[URL]:
    """The deliverer works on committed rows across the whole table, so it gets a database alone."""
    with fresh_database(server_url, "gw_events") as url:
        yield url


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
