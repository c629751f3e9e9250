"""The cluster's gauges on ``/metrics``: read from PostgreSQL at most once per
``GATEWAY_METRICS_CLUSTER_SECONDS``, one read shared by concurrent scrapes, which wait for it a
bounded time; and a scrape answers while the database does not, with the last figures and their
age. Each test runs real gateways on a database of its own."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import URL

from gateway.app import create_app
from gateway.kit.db import async_url, sync_url
from tests.fixtures.database import fresh_database
from tests.fixtures.servers import ServerThread, free_port, serving
from tests.fixtures.stack import Stack
from tests.test_metrics import value

AGE = "gateway_cluster_gauges_age_seconds"
WITHIN = 30.0


@contextmanager
def gateway(stack: Stack, url: URL, interval: float) -> Iterator[ServerThread]:
    settings = stack.settings.model_copy(update={"metrics_cluster_seconds": interval})
    with serving(create_app(settings, url)) as server:
        yield server


@pytest.fixture
def own_database(server_url: URL) -> Iterator[URL]:
    with fresh_database(server_url, "gw_scrape") as url:
        yield url


@pytest.fixture
async def admin(server_url: URL) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the server's own database, which stays up while the test's is cut off."""
    connection = await asyncpg.connect(sync_url(server_url))
    try:
        yield connection
    finally:
        await connection.close()


async def add_connections(url: URL, count: int, status: str = "active") -> None:
    connection = await asyncpg.connect(sync_url(url))
    try:
        await connection.execute(
            "INSERT INTO connections (id, user_id, provider, subject, status, token_version, "
            "connected_at) SELECT gen_random_uuid(), 'scrape-' || gen_random_uuid(), 'contio', "
            "'subject', $1::connection_status, 1, now() FROM generate_series(1, $2)",
            status,
            count,
        )
    finally:
        await connection.close()


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return response.text


def active(text: str) -> float | None:
    return value(text, "gateway_connections", provider="contio", status="active")


async def test_the_gauges_are_read_at_most_once_per_interval(
    stack: Stack, own_database: URL
) -> None:
    await add_connections(own_database, 3)
    with (
        gateway(stack, own_database, 3600) as slow,
        gateway(stack, own_database, 0) as every_scrape,
    ):
        async with (
            httpx.AsyncClient(base_url=slow.url, timeout=30) as cached,
            httpx.AsyncClient(base_url=every_scrape.url, timeout=30) as fresh,
        ):
            first = await scrape(cached)
            assert active(first) == 3
            first_age = value(first, AGE)
            assert first_age is not None and math.isfinite(first_age)

            await add_connections(own_database, 2)

            again = await scrape(cached)
            assert active(again) == 3  # the figures read before, not read again
            again_age = value(again, AGE)
            assert again_age is not None and first_age <= again_age < 3600
            assert active(await scrape(fresh)) == 5  # what a read finds now


async def waiting_reads(admin: asyncpg.Connection, database: str) -> int:
    """The gateway's statements on ``database`` waiting for the lock on ``provider_breakers``."""
    count = await admin.fetchval(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE NOT l.granted AND a.datname = $1 AND a.application_name <> 'scrape-test-lock'",
        database,
    )
    assert isinstance(count, int)
    return count


async def test_concurrent_scrapes_share_one_read_and_wait_for_it_a_bounded_time(
    stack: Stack, own_database: URL, admin: asyncpg.Connection
) -> None:
    database = own_database.database
    assert database is not None
    locker = await asyncpg.connect(
        sync_url(own_database), server_settings={"application_name": "scrape-test-lock"}
    )
    try:
        with gateway(stack, own_database, 0) as server:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                transaction = locker.transaction()
                await transaction.start()
                # The read takes the breakers after the connections: it waits here.
                await locker.execute("LOCK TABLE provider_breakers IN ACCESS EXCLUSIVE MODE")
                first = asyncio.create_task(scrape(client))
                deadline = time.monotonic() + WITHIN
                while await waiting_reads(admin, database) < 1:
                    assert time.monotonic() < deadline, "no read waits for the lock"
                    await asyncio.sleep(0.05)

                others = await asyncio.gather(*(scrape(client) for _ in range(4)))

                # Each answered without the figures (none read yet), and no other read started.
                for text in others:
                    assert value(text, AGE) == math.inf
                    assert active(text) is None
                assert await waiting_reads(admin, database) == 1
                await transaction.rollback()
                assert value(await first, AGE) == math.inf

                deadline = time.monotonic() + WITHIN
                while not math.isfinite(value(text := await scrape(client), AGE) or math.inf):
                    assert time.monotonic() < deadline, "the read never finished"
                    await asyncio.sleep(0.05)
                assert active(text) == 0
    finally:
        await locker.close()


async def test_a_scrape_answers_through_an_outage_with_the_last_figures_and_their_age(
    stack: Stack, own_database: URL, admin: asyncpg.Connection
) -> None:
    database = own_database.database
    await add_connections(own_database, 2)
    await add_connections(own_database, 1, "needs_reauth")
    with gateway(stack, own_database, 0) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            before = await scrape(client)
            assert active(before) == 2
            try:
                await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                    database,
                )
                during = await scrape(client)
            finally:
                await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    assert active(during) == 2
    assert value(during, "gateway_connections", provider="contio", status="needs_reauth") == 1
    before_age, during_age = value(before, AGE), value(during, AGE)
    assert before_age is not None and during_age is not None
    assert before_age <= during_age < math.inf


async def test_a_scrape_answers_before_the_database_ever_did(stack: Stack) -> None:
    nowhere = async_url(f"postgresql://postgres@127.0.0.1:{free_port()}/gone")
    scrapes = {"method": "GET", "route": "/metrics", "status": "200"}
    with gateway(stack, nowhere, 0) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            deadline = time.monotonic() + WITHIN
            # The process's own counters are there: the scrapes before this one, once counted.
            while (
                value(text := await scrape(client), "gateway_http_requests_total", **scrapes)
                is None
            ):
                assert time.monotonic() < deadline, "the scrapes are never counted"
                await asyncio.sleep(0.05)
    assert value(text, AGE) == math.inf
    assert active(text) is None
