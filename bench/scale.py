"""The scale part: everything measured twice, among ``COMPARISON`` connections and among
``BENCH_SCALE_CONNECTIONS`` (a million by default), so each figure shows whether it follows the
number of connections.

For each size: a sandbox holding that many grants (one per connection, every token real); the
connections written in bulk (``bulk``) and the database's size per connection; ``BENCH_SCALE_DUE``
of them made due at random and refreshed (the due query's cost and plan, a cycle's cost, the
refresher's throughput: ``refresher.Worker``); then the proxy, started cold and measured warm
(``scale_proxy``).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import URL

from bench import bulk, nginx, seed
from bench.machine import CpuPlan, pinned_to
from bench.processes import Service, free_port, start
from bench.refresher import CLIENT_ID, CLIENT_SECRET, TOKEN_LIFETIME, Worker, issue_grants, vacuum
from bench.scale_proxy import UNIFORM_USERS, proxy_case
from bench.settings import BenchSettings
from bench.targets import BIN, clean_env
from gateway.kit.crypto import KeyRing, generate_key_entry
from gateway.kit.db import Database, sync_url
from gateway.settings import load_settings

COMPARISON = 10_000
REFRESH_REPEATS = 2
DUE_QUERY_REPEATS = 5
EMAIL = "scale@bench"


def sizes(connections: int) -> list[int]:
    """The sizes measured: the comparison first, then the one asked for (once if the same)."""
    return sorted({min(COMPARISON, connections), connections})


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
