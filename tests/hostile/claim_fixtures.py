"""A gateway and a Contio sandbox of their own on loopback, with a gate in front of the sandbox.

The gate holds every request to one sandbox path while it is closed and counts them, so a test can
keep the first of several concurrent flows inside the provider call until every other one has been
answered: what the others get then cannot depend on timing.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import URL
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.app import create_app
from gateway.clients.store import create_client
from gateway.kit.db import Database
from gateway.settings import Settings
from gateway_sandbox import SandboxOptions, create_sandbox_app
from gateway_sandbox.state.store import SandboxStore
from tests.fixtures.servers import ServerThread, free_port
from tests.fixtures.stack import gateway_settings, new_client

WEBHOOK_SECRET = "claim-webhook-secret"
# How long a held request may wait at the gate before it is let through anyway.
HOLD_SECONDS = 30.0


class Gate:
    """Pure ASGI: while closed, a request to ``path`` waits (in a worker thread) until opened."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.path = ""
        self._opened = threading.Event()
        self._opened.set()
        self._lock = threading.Lock()
        self._held = 0

    def close(self, path: str) -> None:
        with self._lock:
            self.path, self._held = path, 0
        self._opened.clear()

    def open(self) -> None:
        self._opened.set()

    @property
    def held(self) -> int:
        """Requests that reached the gate while it was closed."""
        with self._lock:
            return self._held

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._opened.is_set() and scope["path"] == self.path:
            with self._lock:
                self._held += 1
            await asyncio.to_thread(self._opened.wait, HOLD_SECONDS)
        await self.app(scope, receive, send)


@dataclass
class GatedStack:
    gateway: ServerThread
    sandbox: ServerThread
    sandbox_app: Starlette
    gate: Gate
    settings: Settings

    @property
    def sandbox_store(self) -> SandboxStore:
        found: SandboxStore = self.sandbox_app.state.sandbox
        return found


@pytest.fixture(scope="module")
def gated(database_url: URL) -> Iterator[GatedStack]:
    port = free_port()
    options = SandboxOptions(
        redirect_uris=(f"http://127.0.0.1:{port}/oauth/callback",), auto_approve=True
    )
    sandbox_app = create_sandbox_app(options)
    gate = Gate(sandbox_app)
    sandbox = ServerThread(gate).start()
    settings = gateway_settings(port, sandbox.url, contio_webhook_secrets=SecretStr(WEBHOOK_SECRET))
    gateway = ServerThread(create_app(settings, database_url), port=port).start()
    try:
        yield GatedStack(gateway, sandbox, sandbox_app, gate, settings)
    finally:
        gate.open()
        gateway.stop()
        sandbox.stop()


@pytest.fixture
async def gw(gated: GatedStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gated.gateway.url, timeout=HOLD_SECONDS * 2) as client:
        yield client
    gated.gate.open()


@pytest.fixture
async def sandbox(gated: GatedStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gated.sandbox.url, timeout=10) as client:
        yield client


async def confined_client(db: Database, scopes: list[str], allow: list[str]) -> str:
    """A fresh service client confined to its own users (``own_users_only``); returns its key."""
    async with db.transaction() as session:
        client, issued = await create_client(
            session, f"confined-{uuid.uuid4().hex[:10]}", scopes, allow
        )
        client.own_users_only = True
    return issued.key


CLIENT_KINDS = ("unconfined", "confined")


@pytest.fixture(params=CLIENT_KINDS)
async def client_key(request: pytest.FixtureRequest, db: Database) -> str:
    """A service client that may connect and proxy: each test runs once unconfined, once confined."""
    scopes, allow = ["connect", "proxy"], ["GET /**"]
    if request.param == "confined":
        return await confined_client(db, scopes, allow)
    return await new_client(db, scopes, allow)
