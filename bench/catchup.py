"""Catch-up after an outage (the refresher part's ``catchup``): connections that come due while the
sandbox's token endpoint is down (its ``token_endpoint_down`` fault), the refresher loop running
throughout, as ``gateway worker`` runs it; when the endpoint is back, how long the refresher takes
to refresh the whole backlog, in which order, and how many tokens expired before their turn.

Every connection is due from the start, its token expiring ``lead`` seconds after the outage
ends plus ``step`` seconds per place in a shuffled order (so that creation order says nothing
about expiry). The tests drive the same scenario at a small size (``tests/tokens/test_catchup``).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import bindparam, select, text
from sqlalchemy.engine import URL

from bench import seed
from bench.machine import CpuPlan, collector_as_served, pinned_to
from bench.refresher import Worker, issue_grants, logging_to, sandbox_for, vacuum
from bench.settings import BenchSettings
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import Connection
from gateway.settings import Settings
from gateway.tokens import loop
from gateway.tokens.refresher import Refresher

TOKEN_LIFETIME = 3600
POLL_SECONDS = 0.2
USER_PREFIX = "catchup-"
# The bench's budget: units per connection and window (every failed attempt during the outage
# spends one too), and its tokens' expiries: from this long after the outage, over this long.
UNITS_PER_CONNECTION = 4
WINDOW_SECONDS = 60
LEAD_SECONDS = 120
SPREAD_SECONDS = 60
BACKLOG_DEADLINE_SECONDS = 600


async def seed_backlog(
    db: Database,
    keys: KeyRing,
    pairs: list[tuple[str, str]],
    subject: str,
    *,
    lead: float,
    step: float,
) -> dict[uuid.UUID, datetime]:
    """One due connection per token pair, the n-th nearest expiry ``lead + n * step`` seconds from
    now in a shuffled order; each connection's expiry."""
    await seed.connections(
        db,
        keys,
        tokens=pairs,
        subject=subject,
        lifetime_seconds=TOKEN_LIFETIME,
        due=True,
        user_prefix=USER_PREFIX,
    )
    async with db.transaction() as session:
        rows = await session.execute(
            text(
                "UPDATE connections c SET expires_at = now() + make_interval("
                "secs => CAST(:lead AS float8) + r.place * CAST(:step AS float8)) "
                "FROM (SELECT id, row_number() OVER (ORDER BY random()) - 1 AS place "
                "FROM connections WHERE user_id LIKE :prefix) r "
                "WHERE c.id = r.id RETURNING c.id, c.expires_at"
            ),
            {"lead": lead, "step": step, "prefix": f"{USER_PREFIX}%"},
        )
        return {connection_id: expires for connection_id, expires in rows}


async def endpoint_down(sandbox: str, down: bool) -> None:
    async with httpx.AsyncClient(base_url=sandbox, timeout=10) as http:
        answer = await http.post("/_sandbox/faults", json={"token_endpoint_down": down})
        answer.raise_for_status()


async def refresh_calls(sandbox: str) -> int:
    """Token requests with the refresh grant the sandbox received, failed ones included."""
    async with httpx.AsyncClient(base_url=sandbox, timeout=10) as http:
        answer = await http.get("/_sandbox/stats")
        answer.raise_for_status()
    return int(answer.json()["refresh_calls"])


@contextlib.asynccontextmanager
async def refresher_running(
    db: Database, refresher: Refresher, settings: Settings
) -> AsyncIterator[None]:
    """The refresher loop (``gateway worker``'s) in this event loop until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        loop.run(
            db,
            refresher,
            interval=settings.refresher_interval_seconds,
            batch_size=settings.refresher_batch_size,
            stop=stop,
        )
    )
    try:
        yield
    finally:
        stop.set()
        await task


async def refreshed_since(
    db: Database, ids: list[uuid.UUID], since: datetime
) -> dict[uuid.UUID, datetime]:
    """When each of ``ids`` was last refreshed, for those refreshed at or after ``since``."""
    async with db.transaction() as session:
        rows = await session.execute(
            select(Connection.id, Connection.last_refreshed_at).where(
                Connection.id.in_(bindparam("ids", expanding=True)),
                Connection.last_refreshed_at >= since,
            ),
            {"ids": ids},
        )
        return {connection_id: at for connection_id, at in rows if at is not None}


async def database_now(db: Database) -> datetime:
    async with db.transaction() as session:
        now: datetime = await session.scalar(text("SELECT now()"))
        return now


async def scenario(
    db: Database,
    refresher: Refresher,
    settings: Settings,
    sandbox: str,
    expiries: dict[uuid.UUID, datetime],
    *,
    outage_over: Callable[[], Awaitable[bool]],
    deadline_seconds: float,
) -> dict[str, Any]:
    """The token endpoint down, then the refresher loop started, until ``outage_over()`` is true
    (polled; at most ``deadline_seconds``); then the endpoint back, and the loop left running until every connection of
    ``expiries`` is refreshed (or the deadline). The figures of ``report``, with the refresh calls
    the sandbox got during the outage."""
    before = await refresh_calls(sandbox)
    started = time.monotonic()
    await endpoint_down(sandbox, True)
    try:
        async with refresher_running(db, refresher, settings):
            try:
                deadline = time.monotonic() + deadline_seconds
                while time.monotonic() < deadline:  # polled: the database's or the sandbox's
                    if await outage_over():
                        break
                    await asyncio.sleep(POLL_SECONDS)
            finally:
                await endpoint_down(sandbox, False)
            back = await database_now(db)
            calls = await refresh_calls(sandbox) - before
            outage_s = time.monotonic() - started
            done = await wait_for_backlog(db, list(expiries), back, deadline_seconds)
    finally:
        await endpoint_down(sandbox, False)
    return {
        "outage_s": round(outage_s, 1),
        "calls_during_outage": calls,
        **report(expiries, done, back),
    }


async def wait_for_backlog(
    db: Database, ids: list[uuid.UUID], since: datetime, deadline_seconds: float
) -> dict[uuid.UUID, datetime]:
    """Poll until every one of ``ids`` was refreshed at or after ``since`` (or the deadline)."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        done = await refreshed_since(db, ids, since)
        if len(done) == len(ids) or time.monotonic() > deadline:
            return done
        await asyncio.sleep(POLL_SECONDS)


def report(
    expiries: dict[uuid.UUID, datetime], refreshed: dict[uuid.UUID, datetime], back: datetime
) -> dict[str, Any]:
    """The catch-up's figures. ``overtaken_max``: the most connections expiring later that were
    written before any one connection (the calls in flight when the endpoint came back were for
    whatever was due then; after them, none should overtake)."""
    written: list[datetime] = []  # the expiries of the groups written so far, sorted
    overtaken_max = 0
    by_time = sorted(refreshed.items(), key=lambda item: item[1])
    n = 0
    while n < len(by_time):
        at = by_time[n][1]
        group = [cid for cid, when in by_time[n:] if when == at]
        for cid in group:
            later = len(written) - bisect.bisect_right(written, expiries[cid])
            overtaken_max = max(overtaken_max, later)
        for cid in group:
            bisect.insort(written, expiries[cid])
        n += len(group)
    last = max(refreshed.values(), default=back)
    first = min(refreshed.values(), default=back)
    return {
        "backlog": len(expiries),
        "refreshed": len(refreshed),
        "catchup_s": round((last - back).total_seconds(), 2),
        "first_refresh_after_s": round((first - back).total_seconds(), 2),
        "expired_before_turn": sum(1 for cid, at in refreshed.items() if at > expiries[cid]),
        "not_refreshed": len(expiries) - len(refreshed),
        "overtaken_max": overtaken_max,
    }


async def _bench(
    settings: Settings, database: URL, sandbox: str, bench: BenchSettings
) -> dict[str, Any]:
    """``bench.catchup_connections`` come due while the token endpoint is down for
    ``bench.catchup_outage`` seconds, under a budget with room for them (``catchup``)."""
    count, outage = bench.catchup_connections, bench.catchup_outage
    rate = f"{UNITS_PER_CONNECTION * count}/{WINDOW_SECONDS}s"
    worker = Worker(settings, database, {"GATEWAY_CONTIO_TOKEN_RATE": rate})
    try:
        await worker.execute("DELETE FROM connections")
        subject, pairs = await asyncio.to_thread(issue_grants, sandbox, count, "catchup@bench")
        lead = outage + LEAD_SECONDS
        expiries = await seed_backlog(
            worker.db, worker.keys, pairs, subject, lead=lead, step=SPREAD_SECONDS / count
        )
        await vacuum(database)
        ends = time.monotonic() + outage

        async def over() -> bool:
            return time.monotonic() >= ends

        figures = await scenario(
            worker.db,
            worker.refresher,
            settings,
            sandbox,
            expiries,
            outage_over=over,
            deadline_seconds=outage + BACKLOG_DEADLINE_SECONDS,
        )
    finally:
        await worker.close()
    return {
        **figures,
        "budget": rate,
        "expiries": f"{lead:g}s to {lead + SPREAD_SECONDS:g}s after the outage began",
        "refresher_interval_s": settings.refresher_interval_seconds,
    }


def run(plan: CpuPlan, bench: BenchSettings, database: URL, work: Path) -> dict[str, Any]:
    """The scenario against a sandbox of its own, the refresher on the load generator's core."""
    with (
        sandbox_for(plan) as (sandbox, settings),
        pinned_to(plan.load),
        collector_as_served(),
        logging_to(work / "catchup.log"),
    ):
        return asyncio.run(_bench(settings, database, sandbox.url, bench))
