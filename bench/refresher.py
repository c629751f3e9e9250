"""The refresher benchmark: many connections due at once, refreshed against the sandbox with no
token budget, next to what the sandbox's token endpoint manages on its own; then the same number
due among ten times fewer connections, to show a cycle's cost follows the due set only.

The refresher runs in this process, as ``gateway worker`` runs it (``refresh_due`` cycle after
cycle, batches of ``refresher_batch_size``, the loop's own concurrency), logging as shipped (JSON,
INFO) to a file in the run's work directory.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.engine import URL

from bench import seed, wrk
from bench.machine import CpuPlan, pinned_to
from bench.processes import Service, free_port, start
from bench.settings import BenchSettings
from bench.targets import BIN, clean_env
from gateway import composition
from gateway.kit.crypto import KeyRing, generate_key_entry
from gateway.kit.db import Database, sync_url
from gateway.kit.logs import JsonFormatter
from gateway.settings import CONTIO_DEFAULT_SCOPES, Settings, load_settings
from gateway.tokens.loop import CONCURRENCY, refresh_due

CLIENT_ID, CLIENT_SECRET = "sandbox-client", "sandbox-secret"
TOKEN_LIFETIME = 3600
GRANTS_PER_CALL = 10_000
CAPACITY_TOKENS_PER_SECOND = 4000  # more refresh tokens than the sandbox can redeem in the time
DUE_SET = 1000
DRAIN_DEADLINE_SECONDS = 3600
DUE_QUERY = """
EXPLAIN (ANALYZE, FORMAT JSON)
SELECT id, provider FROM connections
WHERE status = 'active' AND next_refresh_at <= now()
  AND (lease_expires_at IS NULL OR lease_expires_at < now())
ORDER BY expires_at ASC NULLS FIRST LIMIT :batch
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


def token_endpoint_capacity(
    tool: str, sandbox: Service, duration: float, plan: CpuPlan, work: Path
) -> dict[str, Any]:
    """The sandbox's token endpoint alone: refresh grants from wrk at the refresher's concurrency."""
    _, pairs = issue_grants(
        sandbox.url, int(CAPACITY_TOKENS_PER_SECOND * duration), "capacity@bench"
    )
    tokens = work / "capacity-tokens.txt"
    tokens.write_text("".join(refresh + "\n" for _, refresh in pairs))
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    measured = wrk.run(
        tool,
        sandbox.url,
        script="token.lua",
        connections=CONCURRENCY,
        duration=duration,
        plan=plan,
        env={"BENCH_TOKENS": str(tokens), "BENCH_BASIC": basic},
    )
    return {
        "rps": round(measured.rps, 1),
        "p50_ms": round(measured.p50_ms, 3),
        "p99_ms": round(measured.p99_ms, 3),
        "failed": measured.failed,
        "concurrency": CONCURRENCY,
        "tokens": len(pairs),
    }


@contextlib.contextmanager
def logging_to(path: Path) -> Iterator[None]:
    """The gateway's shipped logging (JSON lines, INFO), written to ``path``."""
    with path.open("w") as stream:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter())
        logging.basicConfig(level="INFO", handlers=[handler], force=True)
        try:
            yield
        finally:
            logging.basicConfig(level="WARNING", handlers=[logging.NullHandler()], force=True)


class Worker:
    def __init__(self, settings: Settings, database: URL) -> None:
        assert settings.encryption_keys is not None
        self.settings = settings
        self.keys = KeyRing.parse(settings.encryption_keys.get_secret_value())
        self.db = Database(database, pool_size=settings.database_pool_size)
        timeout = httpx.Timeout(
            settings.http_read_timeout_seconds, connect=settings.http_connect_timeout_seconds
        )
        self.http = httpx.AsyncClient(timeout=timeout, trust_env=False)
        self.refresher = composition.refresher(settings, self.db, self.keys, self.http, environ={})

    async def close(self) -> None:
        await self.http.aclose()
        await self.db.dispose()

    async def drain(self) -> tuple[float, list[float]]:
        """Cycles until nothing is due: the seconds they took together, and each cycle's."""
        cycles = []
        deadline = time.monotonic() + DRAIN_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            started = time.perf_counter()
            attempted = await refresh_due(
                self.db, self.refresher, self.settings.refresher_batch_size
            )
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
        batch = self.settings.refresher_batch_size
        plan = (await self.scalar(DUE_QUERY, batch=batch))[0]
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
        "concurrency": CONCURRENCY,
        "due_set": [large, small],
    }


def run(
    tools: dict[str, str], plan: CpuPlan, settings: BenchSettings, database: URL, work: Path
) -> dict[str, Any]:
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
        print("  the sandbox's token endpoint alone ...", flush=True)
        capacity = token_endpoint_capacity(tools["wrk"], sandbox, settings.duration, plan, work)
        print(f"    {capacity['rps']:,.0f} refreshes/s", flush=True)
        count = settings.refresh_connections
        print(f"  issuing {count:,} grants and seeding them all due ...", flush=True)
        subject, pairs = issue_grants(sandbox.url, count, "refresher@bench")
        gateway_settings = load_settings(
            environ={
                "GATEWAY_ENCRYPTION_KEYS": generate_key_entry("bench1"),
                "GATEWAY_CONTIO_CLIENT_ID": CLIENT_ID,
                "GATEWAY_CONTIO_CLIENT_SECRET": CLIENT_SECRET,
                "GATEWAY_CONTIO_AUTH_URL": sandbox.url,
                "GATEWAY_CONTIO_API_URL": sandbox.url,
            }
        )
        with pinned_to(plan.load):
            found = asyncio.run(
                _benchmark(gateway_settings, database, subject, pairs, work / "refresher.log")
            )
    finally:
        sandbox.stop()
    return {
        **found,
        "token_endpoint_rps": capacity["rps"],
        "token_endpoint": capacity,
        "sandbox_grants": "one sandbox user holding every grant (its directory scans users "
        "linearly, so 100k users would time the emulator, not the refresher)",
        "budget": "none (GATEWAY_CONTIO_TOKEN_RATE unset)",
    }
