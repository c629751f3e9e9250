"""SIGTERM: `gateway serve` stops taking requests, finishes the ones in flight, and exits cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import httpx
from sqlalchemy.engine import URL
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.clients.store import create_client
from gateway.connections.store import save_grant
from gateway.kit.crypto import KeyRing, generate_key_entry
from gateway.kit.db import Database, sync_url
from gateway.providers.token_response import TokenSet
from tests.fixtures.servers import free_port, serving
from tests.fixtures.stack import Stack
from tests.fixtures.sync import run_sync


class SlowUpstream:
    """Answers ``GET /v1/partner/user/meetings`` only once released; counts arrivals."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()

    def app(self) -> Starlette:
        async def meetings(request: Request) -> JSONResponse:
            self.arrived.set()
            await asyncio.to_thread(self.release.wait, 30)
            return JSONResponse({"items": [], "total": 0})

        return Starlette(routes=[Route("/v1/partner/user/meetings", meetings)])


async def seed(database_url: URL, stack: Stack, key_entry: str, user_id: str) -> str:
    """The user's connection (any tokens: the upstream here does not check them); a proxy key."""
    db = Database(database_url, pool_size=1)
    try:
        return await _seed(db, stack, key_entry, user_id)
    finally:
        await db.dispose()


async def _seed(db: Database, stack: Stack, key_entry: str, user_id: str) -> str:
    async with db.transaction() as session:
        await save_grant(
            session,
            KeyRing.parse(key_entry),
            user_id=user_id,
            provider="contio",
            subject=f"sub-{user_id}",
            tokens=TokenSet.from_response(
                {
                    "access_token": "at",
                    "refresh_token": "rt",
                    "token_type": "Bearer",
                    "expires_in": 86400,
                },
                provider="contio",
            ),
            client_id=None,
            settings=stack.settings,
        )
        _client, issued = await create_client(session, f"term-{user_id}", ["proxy"], ["GET /**"])
    return issued.key


def test_sigterm_finishes_the_request_in_flight(stack: Stack, database_url: URL) -> None:
    key_entry = generate_key_entry("term")
    user_id = f"term-{uuid.uuid4().hex[:8]}"
    service_key = run_sync(lambda: seed(database_url, stack, key_entry, user_id))
    upstream = SlowUpstream()
    port = free_port()
    with serving(upstream.app()) as slow:
        env = {
            **os.environ,
            "GATEWAY_DATABASE_URL": sync_url(database_url),
            "GATEWAY_ENCRYPTION_KEYS": key_entry,
            "GATEWAY_CONTIO_AUTH_URL": stack.sandbox.url,
            "GATEWAY_CONTIO_API_URL": slow.url,
            "GATEWAY_CONTIO_CLIENT_ID": "sandbox-client",
            "GATEWAY_CONTIO_CLIENT_SECRET": "sandbox-secret",
            "GATEWAY_LOG_FORMAT": "text",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--no-worker", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and process.poll() is None, "serve did not start"
                time.sleep(0.05)
            answers: list[httpx.Response] = []
            caller = threading.Thread(
                target=lambda: answers.append(
                    httpx.get(
                        f"{url}/proxy/users/{user_id}/meetings",
                        headers={"Authorization": f"Bearer {service_key}"},
                        timeout=30,
                    )
                )
            )
            caller.start()
            assert upstream.arrived.wait(20), "the call never reached the upstream"

            process.send_signal(signal.SIGTERM)
            # New connections are refused while the one in flight is finished.
            deadline = time.monotonic() + 10
            while True:
                try:
                    httpx.get(f"{url}/healthz", timeout=1)
                except httpx.TransportError:
                    break
                assert time.monotonic() < deadline, "serve kept accepting after SIGTERM"
                time.sleep(0.05)
            upstream.release.set()
            caller.join(20)
            # uvicorn re-raises the captured SIGTERM once it has shut down cleanly.
            assert process.wait(20) in (0, -signal.SIGTERM)
        finally:
            upstream.release.set()
            if process.poll() is None:
                process.kill()
    assert [a.status_code for a in answers] == [200]
    assert answers[0].json() == {"items": [], "total": 0}
