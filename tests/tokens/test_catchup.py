"""Catch-up after an outage, against the sandbox on loopback and a database of its own: connections
come due while the token endpoint is down and the refresher loop runs; when the endpoint is back,
the backlog is refreshed nearest expiry first, within the budget, before any token expires."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import URL

from bench import catchup
from gateway import composition
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import Connection
from gateway.settings import CONTIO_DEFAULT_SCOPES
from gateway.tokens.slots import QUEUED_ROUNDS
from gateway_sandbox import SandboxOptions, create_sandbox_app
from tests.fixtures.database import fresh_database
from tests.fixtures.servers import ServerThread, free_port
from tests.fixtures.stack import gateway_settings

CONNECTIONS = 200
# The refresher may spend 0.9 of it a window: room for an attempt or two per connection during
# the outage (each spends a unit) and for the whole backlog after it.
TOKEN_RATE = "1000/60s"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ServerThread]:
    server = ServerThread(create_sandbox_app(SandboxOptions(auto_approve=True))).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def own_url(server_url: URL) -> Iterator[URL]:
    with fresh_database(server_url, "catchup") as url:
        yield url


@pytest.fixture
async def own_db(own_url: URL) -> AsyncIterator[Database]:
    db = Database(own_url, pool_size=4)
    try:
        yield db
    finally:
        await db.dispose()


async def issued_grants(sandbox: str, count: int) -> tuple[str, list[tuple[str, str]]]:
    async with httpx.AsyncClient(base_url=sandbox, timeout=30) as http:
        answer = await http.post(
            "/_sandbox/grants",
            json={"email": "catchup@example.com", "count": count, "scope": CONTIO_DEFAULT_SCOPES},
        )
        answer.raise_for_status()
    issued = answer.json()
    return issued["subject"], [(g["access_token"], g["refresh_token"]) for g in issued["grants"]]


async def a_retry_failed(db: Database) -> bool:
    """Whether some connection failed twice: it tried again after its backoff, still in vain."""
    async with db.transaction() as session:
        most = await session.scalar(select(func.max(Connection.consecutive_failures)))
    return (most or 0) >= 2


async def test_after_an_outage_the_backlog_is_refreshed_nearest_expiry_first_within_the_budget(
    sandbox: ServerThread, own_db: Database
) -> None:
    settings = gateway_settings(free_port(), sandbox.url, refresher_interval_seconds=0.5)
    assert settings.encryption_keys is not None
    keys = KeyRing.parse(settings.encryption_keys.get_secret_value())
    subject, pairs = await issued_grants(sandbox.url, CONNECTIONS)
    # Expiring from two minutes on, 0.2 s apart: far enough for the outage and the catch-up.
    expiries = await catchup.seed_backlog(own_db, keys, pairs, subject, lead=120, step=0.2)

    async with httpx.AsyncClient(timeout=10) as http:
        refresher = composition.refresher(
            settings, own_db, keys, http, environ={"GATEWAY_CONTIO_TOKEN_RATE": TOKEN_RATE}
        )
        figures = await catchup.scenario(
            own_db,
            refresher,
            settings,
            sandbox.url,
            expiries,
            outage_over=lambda: a_retry_failed(own_db),
            deadline_seconds=60,
        )

    assert figures["refreshed"] == CONNECTIONS, figures
    # Nearest expiry first, once the calls in flight when it came back are done; within a claim
    # (``QUEUED_ROUNDS`` rounds of calls at most) answers arrive in any order.
    bound = (QUEUED_ROUNDS + 1) * settings.refresher_concurrency
    assert figures["overtaken_max"] <= bound, figures
    assert figures["expired_before_turn"] == 0, figures
    # One attempt per backoff while it was down, not one per cycle.
    assert figures["calls_during_outage"] <= 2 * CONNECTIONS, figures
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as http:
        stats = (await http.get("/_sandbox/stats")).json()
    assert stats["reuse_detections"] == 0
