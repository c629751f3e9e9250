"""One loopback server for the whole session; each test mounts a fresh sandbox app on it.

Starting uvicorn costs a few hundred milliseconds, a sandbox app (an RSA key) about thirty, so the
server stays up and ``AppSlot`` forwards to whichever sandbox the running test created.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.sandbox import SandboxOptions, create_sandbox_app
from tests.fixtures.servers import serving
from tests.sandbox.driver import FakeClock, Sandbox

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


@pytest.fixture(scope="session")
def slot() -> Iterator[tuple[AppSlot, str]]:
    app_slot = AppSlot()
    with serving(app_slot) as server:
        yield app_slot, server.url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def start_sandbox(slot: tuple[AppSlot, str], clock: FakeClock) -> Iterator[SandboxFactory]:
    """Mounts a fresh sandbox (fake clock, any option overridden); the last one started serves."""
    app_slot, url = slot
    started: list[Sandbox] = []

    def start(**overrides: Any) -> Sandbox:
        options = replace(SandboxOptions(clock=clock), **overrides)
        app = create_sandbox_app(options)
        app_slot.app = app
        started.append(Sandbox(url, options, app.state.sandbox))
        return started[-1]

    yield start
    app_slot.app = None
    for sandbox in started:
        sandbox.close()


@pytest.fixture
def sandbox(start_sandbox: SandboxFactory) -> Sandbox:
    return start_sandbox()
