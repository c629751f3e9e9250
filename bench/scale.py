"""The scale part: everything measured twice, among ``COMPARISON`` connections and among
``BENCH_SCALE_CONNECTIONS`` (a million by default), so each figure shows whether it follows the
number of connections.

For each size: a sandbox holding that many grants (one per connection, every token real); the
connections written in bulk (``bulk``) and the database's size per connection; ``BENCH_SCALE_DUE``
of them made due at random and refreshed (the due query's cost and plan, a cycle's cost, the
refresher's throughput: ``refresher.Worker``); then a gateway started cold (``gateway serve`` with
``GATEWAY_PROXY_CACHE_MAX_BYTES``) under wrk's Zipf mix over every user (``lua/zipf.lua``), its
throughput in consecutive windows while the database's transactions and rows read are sampled
every second (``pg_stat_database``: the gateway is the only client then), then, warm, its
throughput over ``UNIFORM_USERS`` users in turn and over the Zipf mix (``BENCH_ROUNDS`` rounds of
each, interleaved; the medians), and its resident memory.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import URL

from bench import bulk, nginx, seed, wrk
from bench.machine import CpuPlan, pinned_to
from bench.processes import Service, free_port, start
from bench.refresher import CLIENT_ID, CLIENT_SECRET, TOKEN_LIFETIME, Worker, issue_grants, vacuum
from bench.settings import BenchSettings
from bench.targets import BIN, clean_env, start_gateway
from gateway.kit.crypto import KeyRing, generate_key_entry
from gateway.kit.db import Database, sync_url
from gateway.settings import load_settings

COMPARISON = 10_000
UNIFORM_USERS = 5_000
UNIFORM_WARMUP_SECONDS = 15.0
CONCURRENCY = 32
COLD_WINDOWS = 10
WINDOW_SECONDS = 3
SAMPLE_SECONDS = 1.0
REFRESH_REPEATS = 2
DUE_QUERY_REPEATS = 5
WARM_SHARE = 0.9  # a window at this share of the warm throughput counts as warm
EMAIL = "scale@bench"
READS = """
SELECT xact_commit + xact_rollback, tup_returned + tup_fetched
FROM pg_stat_database WHERE datname = current_database()
"""


def sizes(connections: int) -> list[int]:
    """The sizes measured: the comparison first, then the one asked for (once if the same)."""
    return sorted({min(COMPARISON, connections), connections})


def per_window(
    samples: list[tuple[float, int, int]], starts: list[float], ends: list[float]
) -> list[dict[str, float]]:
    """Database transactions and rows read per second in each window, from cumulative
    ``(seconds, transactions, rows)`` samples: the first sample at or after each end, less the
    last at or before each start."""
    found = []
    for began, ended in zip(starts, ends, strict=True):
        before = [s for s in samples if s[0] <= began]
        after = [s for s in samples if s[0] >= ended]
        first = before[-1] if before else samples[0]
        last = after[0] if after else samples[-1]
        seconds = max(last[0] - first[0], 1e-9)
        found.append(
            {
                "db_transactions_per_s": round((last[1] - first[1]) / seconds, 1),
                "db_rows_per_s": round((last[2] - first[2]) / seconds, 1),
            }
        )
    return found


def warm_after(windows: list[dict[str, Any]], warm_rps: float) -> float | None:
    """Seconds from the start until the first window at ``WARM_SHARE`` of ``warm_rps``."""
    for window in windows:
        if window["rps"] >= WARM_SHARE * warm_rps:
            return float(window["ended_s"])
    return None


def peak_rows(proxied: dict[str, Any]) -> float:
    """The most rows a second the database read in a window of the cold start."""
    return max((w.get("db_rows_per_s", 0.0) for w in proxied["cold_windows"]), default=0.0)


def compare(small: dict[str, Any], large: dict[str, Any]) -> dict[str, Any]:
    """Each figure at the large size over the same at the small one."""

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(b / a, 3) if a and b is not None else None

    rs, rl = small["refresher"], large["refresher"]
    ps, pl = small["proxy"], large["proxy"]
    return {
        "due_query_ms": ratio(rs["due_query_ms"], rl["due_query_ms"]),
        "cycle_ms": ratio(rs["cycle_ms_median"], rl["cycle_ms_median"]),
        "refreshes_per_s": ratio(rs["refreshes_per_s"], rl["refreshes_per_s"]),
        "zipf_rps": ratio(ps["zipf_rps"], pl["zipf_rps"]),
        "rss_mib": ratio(ps["rss_mib"], pl["rss_mib"]),
        "cold_peak_rows_per_s": ratio(peak_rows(ps), peak_rows(pl)),
        "bytes_per_connection": ratio(
            small["database"]["bytes_per_connection"], large["database"]["bytes_per_connection"]
        ),
    }


class DbReads(threading.Thread):
    """``READS`` every ``SAMPLE_SECONDS`` until ``finish``: ``(seconds, transactions, rows)``."""

    def __init__(self, url: URL) -> None:
        super().__init__(daemon=True)
        self._url = url
        self._stop_event = threading.Event()
        self.began = time.monotonic()
        self.samples: list[tuple[float, int, int]] = []

    def run(self) -> None:
        asyncio.run(self._sample())

    async def _sample(self) -> None:
        connection = await asyncpg.connect(sync_url(self._url))
        try:
            while True:
                row = await connection.fetchrow(READS)
                assert row is not None
                self.samples.append((time.monotonic() - self.began, int(row[0]), int(row[1])))
                if self._stop_event.wait(SAMPLE_SECONDS):
                    return
        finally:
            await connection.close()

    def finish(self) -> list[tuple[float, int, int]]:
        self._stop_event.set()
        self.join()
        return self.samples


async def prepare(
    url: URL, keys: KeyRing, pairs: list[tuple[str, str]], subject: str
) -> tuple[str, dict[str, Any]]:
    """The connections of ``pairs``, owned by a new client: its key, and what the table weighs."""
    db = Database(url, pool_size=2)
    try:
        async with db.transaction() as session:
            # The other parts' connections (sealed under their own keys) have no place here, nor
            # the space the last size's rows took (the size per connection is measured).
            await session.execute(text("TRUNCATE connections CASCADE"))
        client_id, key = await seed.service_key(db, f"scale-{len(pairs)}")
    finally:
        await db.dispose()
    began = time.perf_counter()
    await bulk.copy_connections(
        url, keys, pairs, subject=subject, now=datetime.now(UTC), client_id=client_id
    )
    seconds = time.perf_counter() - began
    await vacuum(url)
    connection = await asyncpg.connect(sync_url(url))
    try:
        total = await connection.fetchval("SELECT pg_total_relation_size('connections')")
        heap = await connection.fetchval("SELECT pg_relation_size('connections')")
        rows = await connection.fetchval("SELECT count(*) FROM connections")
    finally:
        await connection.close()
    return key, {
        "seed_s": round(seconds, 1),
        "seed_rows_per_s": round(len(pairs) / seconds),
        "total_bytes": total,
        "bytes_per_connection": round(total / rows, 1),
        "heap_bytes_per_connection": round(heap / rows, 1),
    }


async def refresher_case(settings: Any, url: URL, size: int, due: int) -> dict[str, Any]:
    """``due`` connections made due and refreshed, ``REFRESH_REPEATS`` times: the fastest drain
    and the fastest due query (load from outside the run only ever slows them down), with every
    repeat's figures beside them."""
    worker = Worker(settings, url)
    try:
        cases = []
        for _ in range(REFRESH_REPEATS):
            await worker.make_due(due)
            await vacuum(url)
            # The fastest of a few: a millisecond is at the mercy of whatever else the machine runs.
            timed = [await worker.due_query_ms() for _ in range(DUE_QUERY_REPEATS)]
            seconds, cycles = await worker.drain()
            cases.append(
                {
                    "total": size,
                    "due": due,
                    "batch": settings.refresher_batch_size,
                    "drain_s": round(seconds, 3),
                    "cycles": len(cycles),
                    "cycle_ms_median": round(statistics.median(cycles) * 1000, 2)
                    if cycles
                    else 0.0,
                    "due_query_ms": round(min(ms for ms, _ in timed), 3),
                    "due_query_plan": timed[0][1],
                }
            )
    finally:
        await worker.close()
    for case in cases:
        case["refreshes_per_s"] = round(due / case["drain_s"], 1) if case["drain_s"] else None
    best = min(cases, key=lambda case: case["drain_s"])
    return {
        **best,
        "due_query_ms": min(case["due_query_ms"] for case in cases),
        "repeats": [
            {k: case[k] for k in ("drain_s", "cycle_ms_median", "due_query_ms")} for case in cases
        ],
    }


def zipf_env(key: str, users: int) -> dict[str, str]:
    return {"BENCH_KEY": key, "BENCH_USERS": str(users)}


def proxy_case(
    tools: dict[str, str],
    plan: CpuPlan,
    bench: BenchSettings,
    url: URL,
    upstream: str,
    encryption_key: str,
    key: str,
    size: int,
) -> dict[str, Any]:
    """A gateway started cold under the Zipf mix over ``size`` users, then measured warm."""
    cache_bytes = str(bench.scale_cache_bytes)
    gateway = start_gateway(
        f"gateway-{size}",
        plan,
        url,
        upstream,
        encryption_key,
        GATEWAY_PROXY_CACHE_MAX_BYTES=cache_bytes,
    )
    zipf = zipf_env(key, size)
    uniform = zipf_env(key, UNIFORM_USERS)

    def measure(script: str, env: dict[str, str], seconds: float) -> wrk.Measured:
        return wrk.run(
            tools["wrk"],
            gateway.url,
            script=script,
            connections=CONCURRENCY,
            duration=seconds,
            plan=plan,
            env=env,
        )

    try:
        rss_start = gateway.rss_mib()
        sampler = DbReads(url)
        sampler.start()
        windows: list[dict[str, Any]] = []
        starts, ends = [], []
        for _ in range(COLD_WINDOWS):
            starts.append(time.monotonic() - sampler.began)
            measured = measure("zipf.lua", zipf, WINDOW_SECONDS)
            ends.append(time.monotonic() - sampler.began)
            windows.append(
                {
                    "ended_s": round(ends[-1] - starts[0], 1),
                    "rps": round(measured.rps, 1),
                    "failed": measured.failed,
                }
            )
        samples = sampler.finish()
        for window, reads in zip(windows, per_window(samples, starts, ends), strict=True):
            window.update(reads)
            window["db_transactions_per_request"] = (
                round(reads["db_transactions_per_s"] / window["rps"], 3) if window["rps"] else None
            )
        # Every one of the 5,000 users called before the rounds (a first call reads the database).
        measure("proxy.lua", uniform, max(bench.warmup, UNIFORM_WARMUP_SECONDS))
        measure("zipf.lua", zipf, bench.warmup)
        rounds = [
            (
                measure("proxy.lua", uniform, bench.duration),
                measure("zipf.lua", zipf, bench.duration),
            )
            for _ in range(bench.rounds)
        ]
        rss = gateway.rss_mib()
    finally:
        gateway.stop()
    flat = statistics.median(pair[0].rps for pair in rounds)
    skewed = statistics.median(pair[1].rps for pair in rounds)
    return {
        "cache_max_bytes": bench.scale_cache_bytes,
        "concurrency": CONCURRENCY,
        "cold_windows": windows,
        "warm_after_s": warm_after(windows, skewed),
        "uniform_users": UNIFORM_USERS,
        "rounds": [[round(u.rps, 1), round(z.rps, 1)] for u, z in rounds],
        "uniform_rps": round(flat, 1),
        "zipf_rps": round(skewed, 1),
        "zipf_p99_ms": round(statistics.median(pair[1].p99_ms for pair in rounds), 3),
        "zipf_over_uniform": round(skewed / flat, 3) if flat else None,
        "failed": sum(u.failed + z.failed for u, z in rounds) + sum(w["failed"] for w in windows),
        "rss_start_mib": round(rss_start, 1),
        "rss_mib": round(rss, 1),
    }


def start_sandbox(plan: CpuPlan) -> Service:
    port = free_port()
    command = [str(BIN / "gateway"), "sandbox", f"--port={port}"]
    return start(
        "sandbox",
        plan.pinned([*command, f"--access-token-ttl={TOKEN_LIFETIME}"], "servers"),
        url=f"http://127.0.0.1:{port}",
        ready_path="/oauth2/health",
        env=clean_env(),
    )


def one_size(
    tools: dict[str, str],
    plan: CpuPlan,
    bench: BenchSettings,
    url: URL,
    work: Path,
    upstream: str,
    size: int,
) -> dict[str, Any]:
    encryption_key = generate_key_entry("scale1")
    sandbox = start_sandbox(plan)
    try:
        print(f"  {size:,}: issuing {size:,} sandbox grants ...", flush=True)
        began = time.perf_counter()
        subject, pairs = issue_grants(sandbox.url, size, EMAIL)
        grants_s = time.perf_counter() - began
        print(f"  {size:,}: seeding {size:,} connections in bulk ...", flush=True)
        with pinned_to(plan.load):
            key, database = asyncio.run(prepare(url, KeyRing.parse(encryption_key), pairs, subject))
        del pairs
        print(f"    {database['bytes_per_connection']:,.0f} bytes a connection", flush=True)
        settings = load_settings(
            environ={
                "GATEWAY_ENCRYPTION_KEYS": encryption_key,
                "GATEWAY_CONTIO_CLIENT_ID": CLIENT_ID,
                "GATEWAY_CONTIO_CLIENT_SECRET": CLIENT_SECRET,
                "GATEWAY_CONTIO_AUTH_URL": sandbox.url,
                "GATEWAY_CONTIO_API_URL": sandbox.url,
            }
        )
        print(f"  {size:,}: {bench.scale_due:,} due, refreshed ...", flush=True)
        with pinned_to(plan.load):
            refreshed = asyncio.run(refresher_case(settings, url, size, bench.scale_due))
        print(f"    {refreshed['refreshes_per_s']} refreshes/s", flush=True)
        sandbox_rss = sandbox.rss_mib()
    finally:
        sandbox.stop()
    print(f"  {size:,}: the proxy, cold then warm, over a Zipf mix ...", flush=True)
    with pinned_to(plan.load):
        proxied = proxy_case(tools, plan, bench, url, upstream, encryption_key, key, size)
    print(
        f"    zipf {proxied['zipf_rps']:,.0f} req/s, {UNIFORM_USERS:,} users "
        f"{proxied['uniform_rps']:,.0f} req/s, RSS {proxied['rss_mib']} MiB",
        flush=True,
    )
    return {
        "connections": size,
        "sandbox": {"grants": size, "issue_s": round(grants_s, 1), "rss_mib": round(sandbox_rss)},
        "database": database,
        "refresher": refreshed,
        "proxy": proxied,
    }


def run(
    tools: dict[str, str], plan: CpuPlan, bench: BenchSettings, url: URL, work: Path
) -> dict[str, Any]:
    port = free_port()
    upstream = nginx.start_upstream(tools["nginx"], "scale-upstream", port, work, plan, "load")
    try:
        cases = [
            one_size(tools, plan, bench, url, work, f"http://127.0.0.1:{port}", size)
            for size in sizes(bench.scale_connections)
        ]
    finally:
        upstream.stop()
    found: dict[str, Any] = {
        "connections": bench.scale_connections,
        "due": bench.scale_due,
        "sizes": cases,
    }
    if len(cases) == 2:
        found["large_over_small"] = compare(cases[0], cases[1])
    return found
