"""One loopback server for the whole session; each test mounts a fresh sandbox app on it.

Starting uvicorn costs a few hundred milliseconds, so the server stays up and ``AppSlot`` forwards to
whichever sandbox the running test created. The tests also share an HTTP client and, since RSA key
generation is slow too, the ID-token signing key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway_sandbox import SandboxOptions, create_sandbox_app
from gateway_sandbox.jwt import SigningKey
from tests.fixtures.servers import serving
from tests.gateway_sandbox.driver import FakeClock, Sandbox
from tests.gateway_sandbox.receiver import SECRET, Receiver

SandboxFactory = Callable[..., Sandbox]


class AppSlot:
    """An ASGI app that forwards every request to the app currently in the slot."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # the sandbox has nothing to start or stop
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        assert self.app is not None, "no sandbox started in this test"
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class Session:
    """What every test shares: the server's slot and URL, an HTTP client and a signing key."""

    slot: AppSlot
    url: str
    http: httpx.Client
    signing_key: SigningKey


@pytest.fixture(scope="session")
def session() -> Iterator[Session]:
    slot = AppSlot()
    with serving(slot) as server, httpx.Client(base_url=server.url, timeout=5) as http:
        yield Session(slot, server.url, http, SigningKey.generate())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def start_sandbox(session: Session, clock: FakeClock) -> Iterator[SandboxFactory]:
    """Mounts a fresh sandbox (fake clock, any option overridden); the last one started serves."""

    started: list[Sandbox] = []

    def start(**overrides: Any) -> Sandbox:
        options = replace(SandboxOptions(clock=clock), **overrides)
        app = create_sandbox_app(options, signing_key=session.signing_key)
        session.slot.app = app
        started.append(Sandbox(session.http, options, app.state.sandbox))
        return started[-1]

    yield start
    session.slot.app = None
    for sandbox in started:  # the slot forwards no lifespan, so webhook senders stop here
        sandbox.store.close()


@pytest.fixture
def sandbox(start_sandbox: SandboxFactory) -> Sandbox:
    return start_sandbox()


@pytest.fixture
def token(sandbox: Sandbox) -> str:
    """An access token of ann@example.com with every read scope."""
    access_token: str = sandbox.tokens_for("ann@example.com")["access_token"]
    return access_token


@pytest.fixture(scope="session")
def webhook_server() -> Iterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])])
    with serving(app) as running:
        receiver.url = f"{running.url}/hook"
        yield receiver


@pytest.fixture
def receiver(webhook_server: Receiver) -> Receiver:
    """The webhook receiver, emptied, answering 200 unless told otherwise."""
    webhook_server.statuses.clear()
    webhook_server.received.clear()
    webhook_server.arrived.clear()
    return webhook_server


@pytest.fixture
def hooked(start_sandbox: SandboxFactory, receiver: Receiver) -> Sandbox:
    """A sandbox sending its webhooks to ``receiver``, retrying quickly."""
    return start_sandbox(
        webhook_url=receiver.url, webhook_secret=SECRET, webhook_retry_delays=(0.01, 0.01)
    )
