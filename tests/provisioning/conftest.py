"""A gateway and a Contio sandbox of their own, on loopback, for the provisioning flow.

The sandbox's clock can be moved (``stack.clock.offset``) so that the provider's own code and
session expiry is reached without waiting; the gateway's clock is moved by rewriting its stored
timestamps. Both are put back after every test, as are the sandbox's faults.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.engine import URL
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.kit.db import Database
from gateway.settings import Settings
from gateway_sandbox import SandboxOptions, create_sandbox_app
from gateway_sandbox.state.store import SandboxStore
from tests.fixtures.servers import ServerThread, free_port
from tests.fixtures.stack import gateway_settings, new_client


class MovableClock:
    """Wall-clock time, shifted by ``offset`` seconds while a test needs the future."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class ProvisioningStack:
    gateway: ServerThread
    sandbox: ServerThread
    sandbox_app: Starlette
    settings: Settings
    clock: MovableClock

    @property
    def sandbox_store(self) -> SandboxStore:
        found: SandboxStore = self.sandbox_app.state.sandbox
        return found


@pytest.fixture(scope="package")
def pstack(database_url: URL) -> Iterator[ProvisioningStack]:
    port = free_port()
    clock = MovableClock()
    options = SandboxOptions(
        redirect_uris=(f"http://127.0.0.1:{port}/oauth/callback",), auto_approve=True, clock=clock
    )
    sandbox_app = create_sandbox_app(options)
    sandbox = ServerThread(sandbox_app).start()
    settings = gateway_settings(port, sandbox.url)
    gateway = ServerThread(create_app(settings, database_url), port=port).start()
    try:
        yield ProvisioningStack(gateway, sandbox, sandbox_app, settings, clock)
    finally:
        gateway.stop()
        sandbox.stop()


@pytest.fixture(autouse=True)
def _restore_sandbox(pstack: ProvisioningStack) -> Iterator[None]:
    yield
    pstack.clock.offset = 0.0
    pstack.sandbox_store.faults.reset()


@pytest.fixture
async def gw(pstack: ProvisioningStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=pstack.gateway.url, timeout=10) as client:
        yield client


@pytest.fixture
async def sandbox(pstack: ProvisioningStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=pstack.sandbox.url, timeout=10) as client:
        yield client


@pytest.fixture
async def key(db: Database) -> str:
    """A service key that may provision and call the proxy."""
    return await new_client(db, ["connect", "proxy"], ["GET /**"])
