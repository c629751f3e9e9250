"""The refresher benchmark: many connections due at once, refreshed against the sandbox with no
token budget, next to what the sandbox's token endpoint manages on its own (measured first, in the
same process, with the gateway's provider client at the refresher's concurrency:
``ratio_to_endpoint``); the database statements the refresher's engine ran per refreshed
connection (``statements_per_refresh``); then the same number due among ten times fewer
connections, to show a cycle's cost follows the due set only.

The refresher runs in this process, as ``gateway worker`` runs it (``refresh_due`` cycle after
cycle, batches of ``refresher_batch_size``, ``refresher_concurrency`` calls at once), logging as
shipped (JSON, INFO) to a file in the run's work directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import seed
from bench.machine import CpuPlan, collector_as_served, pinned_to
from bench.processes import Service, free_port, start
from bench.settings import BenchSettings
from bench.targets import BIN, clean_env
from gateway import composition
from gateway.kit.crypto import KeyRing, generate_key_entry
from gateway.kit.db import Database, sync_url
from gateway.kit.logs import JsonFormatter, quiet_libraries
from gateway.providers.registry import build_registry
from gateway.providers.spender import REFRESHER
from gateway.settings import CONTIO_DEFAULT_SCOPES, Settings, load_settings
from gateway.tokens.lease import DUE_SET_READ
from gateway.tokens.loop import refresh_due

CLIENT_ID, CLIENT_SECRET = "sandbox-client", "sandbox-secret"
TOKEN_LIFETIME = 3600
GRANTS_PER_CALL = 10_000
CAPACITY_TOKENS_PER_SECOND = 4000  # more refresh tokens than the sandbox can redeem in the time
DUE_SET = 1000
DRAIN_DEADLINE_SECONDS = 3600
# A cycle's first claim reads the due set through the due index (``tokens.lease.Leases.claim``):
# what grows with the due connections, if anything, is here.
DUE_QUERY = """
EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON)
SELECT id, expires_at FROM connections
WHERE status = 'active' AND next_refresh_at <= now()
  AND (lease_owner IS NULL OR lease_expires_at < now())
ORDER BY next_refresh_at LIMIT :cap
"""


def issue_grants(sandbox: str, count: int, email: str) -> tuple[str, list[tuple[str, str]]]:
    """``count`` fresh (access, refresh) pairs from the sandbox's bulk control route."""
    pairs: list[tuple[str, str]] = []
    subject = ""
    with httpx.Client(base_url=sandbox, timeout=120) as http:
        while len(pairs) < count:
            answer = http.post(
                "/_sandbox/grants",
                json={
                    "email": email,
                    "count": min(GRANTS_PER_CALL, count - len(pairs)),
                    "scope": CONTIO_DEFAULT_SCOPES,
                },
            )
            answer.raise_for_status()
            issued = answer.json()
            subject = issued["subject"]
            pairs += [(g["access_token"], g["refresh_token"]) for g in issued["grants"]]
    return subject, pairs


async def _capacity(
    settings: Settings, refresh_tokens: list[str], warmup: float, duration: float
) -> dict[str, Any]:
    """Refresh requests through the gateway's own provider client (``composition.provider_http``,
    no budget, no database), as many at once as the refresher makes: ``warmup`` seconds uncounted
    (connections opened, the sandbox warm), then ``duration`` seconds counted."""
    concurrency = settings.refresher_concurrency
    async with composition.provider_http(settings) as http:
        provider = build_registry(settings, http, environ={}).get("contio")
        await provider.load_config()
        tokens = iter(refresh_tokens)

        async def load(seconds: float) -> tuple[list[float], float]:
            waits: list[float] = []
            started = time.perf_counter()
            deadline = started + seconds

            async def client() -> None:
                for token in tokens:
                    if time.perf_counter() >= deadline:
                        return
                    sent = time.perf_counter()
                    await provider.refresh(token, spender=REFRESHER)
                    waits.append(time.perf_counter() - sent)

            await asyncio.gather(*(client() for _ in range(concurrency)))
            return sorted(waits), time.perf_counter() - started

        await load(warmup)
        waits, elapsed = await load(duration)
    return {
        "rps": round(len(waits) / elapsed, 1),
        "p50_ms": round(waits[len(waits) // 2] * 1000, 3) if waits else 0.0,
        "p99_ms": round(waits[int(len(waits) * 0.99)] * 1000, 3) if waits else 0.0,
        "concurrency": concurrency,
        "requests": len(waits),
        "client": "the gateway's provider client (httpx over aiohttp, composition.provider_http)",
    }


def token_endpoint_capacity(
    sandbox: Service, settings: Settings, bench: BenchSettings, plan: CpuPlan
) -> dict[str, Any]:
    """The sandbox's token endpoint alone, from the refresher's CPU, client and concurrency."""
    seconds = bench.warmup + bench.duration
    _, pairs = issue_grants(
        sandbox.url, int(CAPACITY_TOKENS_PER_SECOND * seconds), "capacity@bench"
    )
    refresh_tokens = [refresh for _, refresh in pairs]
    with pinned_to(plan.load), collector_as_served():
        return asyncio.run(_capacity(settings, refresh_tokens, bench.warmup, bench.duration))


class StatementCount:
    """Statements (``before_cursor_execute``) and transactions (``begin``) an engine runs while
    counting."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.sync_engine
        self.statements = 0
        self.transactions = 0

    def _statement(self, *_: Any) -> None:
        self.statements += 1

    def _transaction(self, *_: Any) -> None:
        self.transactions += 1

    def __enter__(self) -> StatementCount:
        event.listen(self._engine, "before_cursor_execute", self._statement)
        event.listen(self._engine, "begin", self._transaction)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self._engine, "before_cursor_execute", self._statement)
        event.remove(self._engine, "begin", self._transaction)


@contextlib.contextmanager
def logging_to(path: Path) -> Iterator[None]:
    """The gateway's shipped logging (JSON lines, INFO, the libraries ``logs.configure`` quiets
    quieted), written to ``path``."""
    with path.open("w") as stream:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter())
        logging.basicConfig(level="INFO", handlers=[handler], force=True)
        quiet_libraries()
        try:
            yield
        finally:
            logging.basicConfig(level="WARNING", handlers=[logging.NullHandler()], force=True)


class Worker:
    def __init__(
        self, settings: Settings, database: URL, environ: dict[str, str] | None = None
    ) -> None:
        assert settings.encryption_keys is not None
        self.settings = settings
        self.keys = KeyRing.parse(settings.encryption_keys.get_secret_value())
        self.db = Database(database, pool_size=settings.database_pool_size)
        self.http = composition.provider_http(settings)
        self.refresher = composition.refresher(
            settings, self.db, self.keys, self.http, environ=environ or {}
        )

    async def close(self) -> None:
        await self.http.aclose()
        await self.db.dispose()

    async def drain(self) -> tuple[float, list[float]]:
        """Cycles until nothing is due: the seconds they took together, and each cycle's."""
        cycles = []
        deadline = time.monotonic() + DRAIN_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            started = time.perf_counter()
            attempted = await refresh_due(self.refresher, self.settings.refresher_batch_size)
            if not attempted:
                break
            cycles.append(time.perf_counter() - started)
        return sum(cycles), cycles

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.db.transaction() as session:
            return (await session.execute(text(sql), params)).scalar()

    async def execute(self, sql: str, **params: Any) -> None:
        async with self.db.transaction() as session:
            await session.execute(text(sql), params)

    async def due_query_ms(self) -> tuple[float, str]:
        """How long the cycle's due-set query takes, and the plan's access path."""
        plan = (await self.scalar(DUE_QUERY, cap=DUE_SET_READ))[0]
        nodes = []
        stack = [plan["Plan"]]
        while stack:
            node = stack.pop()
            nodes.append(
                node["Node Type"] + (f" on {node['Index Name']}" if "Index Name" in node else "")
            )
            stack += node.get("Plans", [])
        return float(plan["Execution Time"]), " > ".join(nodes)

    async def make_due(self, count: int) -> None:
        await self.execute(
            "UPDATE connections SET next_refresh_at = now() - interval '1 second' "
            "WHERE id IN (SELECT id FROM connections ORDER BY random() LIMIT :count)",
            count=count,
        )

    async def due_set_case(self, total: int, due: int) -> dict[str, Any]:
        await self.make_due(due)
        await vacuum(self.db.url)
        query_ms, access = await self.due_query_ms()
        seconds, cycles = await self.drain()
        return {
            "total": total,
            "due": due,
            "batch": self.settings.refresher_batch_size,
            "drain_s": round(seconds, 3),
            "cycles": len(cycles),
            "cycle_ms_median": round(statistics.median(cycles) * 1000, 2) if cycles else 0.0,
            "due_query_ms": round(query_ms, 3),
            "due_query_plan": access,
        }


async def vacuum(url: URL) -> None:
    connection = await asyncpg.connect(sync_url(url))
    try:
        await connection.execute("VACUUM (ANALYZE) connections")
    finally:
        await connection.close()


async def _benchmark(
    settings: Settings, database: URL, subject: str, pairs: list[tuple[str, str]], log: Path
) -> dict[str, Any]:
    worker = Worker(settings, database)
    total = len(pairs)
    try:
        # The proxy part's connections (sealed under its own key) have no place in these counts.
        await worker.execute("DELETE FROM connections")
        await seed.connections(
            worker.db,
            worker.keys,
            tokens=pairs,
            subject=subject,
            lifetime_seconds=TOKEN_LIFETIME,
            due=True,
        )
        await vacuum(database)
        started = await worker.scalar("SELECT now()")
        with logging_to(log):
            with StatementCount(worker.db.engine) as counted:
                seconds, cycles = await worker.drain()
            refreshed = await worker.scalar(
                "SELECT count(*) FROM connections WHERE last_refreshed_at >= :t", t=started
            )
            failed = await worker.scalar(
                "SELECT count(*) FROM connections WHERE status <> 'active' OR consecutive_failures > 0"
            )
            due = min(DUE_SET, max(1, total // 10))
            large = await worker.due_set_case(total, due)
            await worker.execute(
                "DELETE FROM connections WHERE id NOT IN "
                "(SELECT id FROM connections ORDER BY id LIMIT :keep)",
                keep=total // 10,
            )
            small = await worker.due_set_case(total // 10, due)
    finally:
        await worker.close()
    return {
        "connections": total,
        "refreshed": refreshed,
        "failed": failed,
        "seconds": round(seconds, 2),
        "refreshes_per_s": round(refreshed / seconds, 1) if seconds else 0.0,
        "cycles": len(cycles),
        "cycle_ms_median": round(statistics.median(cycles) * 1000, 2) if cycles else 0.0,
        "batch": settings.refresher_batch_size,
        "concurrency": settings.refresher_concurrency,
        "statements": counted.statements,
        "statements_per_refresh": round(counted.statements / refreshed, 3) if refreshed else None,
        "transactions_per_refresh": (
            round(counted.transactions / refreshed, 3) if refreshed else None
        ),
        "due_set": [large, small],
    }


@contextlib.contextmanager
def sandbox_for(plan: CpuPlan) -> Iterator[tuple[Service, Settings]]:
    """The sandbox on the servers' cores, and the gateway's settings for it, until the block ends."""
    port = free_port()
    sandbox = start(
        "sandbox",
        plan.pinned(
            [
                str(BIN / "gateway"),
                "sandbox",
                f"--port={port}",
                f"--access-token-ttl={TOKEN_LIFETIME}",
            ],
            "servers",
        ),
        url=f"http://127.0.0.1:{port}",
        ready_path="/oauth2/health",
        env=clean_env(),
    )
    try:
        yield (
            sandbox,
            load_settings(
                environ={
                    "GATEWAY_ENCRYPTION_KEYS": generate_key_entry("bench1"),
                    "GATEWAY_CONTIO_CLIENT_ID": CLIENT_ID,
                    "GATEWAY_CONTIO_CLIENT_SECRET": CLIENT_SECRET,
                    "GATEWAY_CONTIO_AUTH_URL": sandbox.url,
                    "GATEWAY_CONTIO_API_URL": sandbox.url,
                }
            ),
        )
    finally:
        sandbox.stop()


def run(
    tools: dict[str, str], plan: CpuPlan, settings: BenchSettings, database: URL, work: Path
) -> dict[str, Any]:
    with sandbox_for(plan) as (sandbox, gateway_settings):
        print("  the sandbox's token endpoint alone ...", flush=True)
        capacity = token_endpoint_capacity(sandbox, gateway_settings, settings, plan)
        print(f"    {capacity['rps']:,.0f} refreshes/s", flush=True)
        count = settings.refresh_connections
        print(f"  issuing {count:,} grants and seeding them all due ...", flush=True)
        subject, pairs = issue_grants(sandbox.url, count, "refresher@bench")
        with pinned_to(plan.load), collector_as_served():
            found = asyncio.run(
                _benchmark(gateway_settings, database, subject, pairs, work / "refresher.log")
            )
    rate = found["refreshes_per_s"]
    return {
        **found,
        "token_endpoint_rps": capacity["rps"],
        "ratio_to_endpoint": round(rate / capacity["rps"], 3) if capacity["rps"] else None,
        "token_endpoint": capacity,
        "sandbox_grants": "one sandbox user holding every grant (its directory scans users "
        "linearly, so 100k users would time the emulator, not the refresher)",
        "budget": "none (GATEWAY_CONTIO_TOKEN_RATE unset)",
    }
