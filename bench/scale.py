"""The scale part: everything measured twice, among ``COMPARISON`` connections and among
``BENCH_SCALE_CONNECTIONS`` (a million by default), so each figure shows whether it follows the
number of connections.

For each size: a sandbox holding that many grants (one per connection, every token real); the
connections written in bulk (``bulk``) and the database's size per connection; ``BENCH_SCALE_DUE``
of them made due at random and refreshed (the due query's cost and plan, a cycle's cost, the
refresher's throughput: ``refresher.Worker``); then the proxy, started cold and measured warm
(``scale_proxy``). Every size has a database and a sandbox of its own, all seeded first, so the
sizes take turns in each round of every measurement and a change in the machine's load from
minute to minute falls on both.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import URL

from bench import bulk, database, nginx, seed
from bench.machine import CpuPlan, collector_as_served, pinned_to
from bench.processes import Service, free_port, start
from bench.refresher import CLIENT_ID, CLIENT_SECRET, TOKEN_LIFETIME, Worker, issue_grants, vacuum
from bench.scale_proxy import Target, proxy_cases
from bench.settings import BenchSettings
from bench.targets import BIN, clean_env
from gateway.kit.crypto import KeyRing, generate_key_entry
from gateway.kit.db import Database, sync_url
from gateway.settings import Settings, load_settings

COMPARISON = 10_000
REFRESH_REPEATS = 2
DUE_QUERY_REPEATS = 10
EMAIL = "scale@bench"


def sizes(connections: int) -> list[int]:
    """The sizes measured: the comparison first, then the one asked for (once if the same)."""
    return sorted({min(COMPARISON, connections), connections})


def peak_rows(proxied: dict[str, Any]) -> float:
    """The most rows a second the database read in a window of the cold start."""
    return max((w.get("db_rows_per_s", 0.0) for w in proxied["cold_windows"]), default=0.0)


def peak_rows_per_transaction(proxied: dict[str, Any]) -> float:
    """The most rows the database read per transaction in a window of the cold start: a read
    that grows with the connections (a scan where an index should serve) shows here, while the
    number of reads follows the share of calls the caches miss, which the Zipf goal judges."""
    return max(
        (
            w["db_rows_per_s"] / w["db_transactions_per_s"]
            for w in proxied["cold_windows"]
            if w.get("db_transactions_per_s")
        ),
        default=0.0,
    )


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
        "cold_peak_rows_per_transaction": ratio(
            peak_rows_per_transaction(ps), peak_rows_per_transaction(pl)
        ),
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


async def time_due_queries(workers: list[Worker]) -> list[list[tuple[float, str]]]:
    """The due query at each size, ``DUE_QUERY_REPEATS`` times, the sizes taking turns query by
    query: a millisecond is at the mercy of whatever else the machine runs, and taking turns lays
    that on every size alike (each size's repeats run back to back once differed by more than the
    sizes did)."""
    timed: list[list[tuple[float, str]]] = [[] for _ in workers]
    for _ in range(DUE_QUERY_REPEATS):
        for worker, found in zip(workers, timed, strict=True):
            found.append(await worker.due_query_ms())
    return timed


async def refresh_round(
    workers: list[Worker], seeds: list[Seeded], due: int
) -> list[dict[str, Any]]:
    """``due`` of each size's connections made due at random, the due queries timed in turns,
    then each size drained in turn."""
    for worker in workers:
        await worker.make_due(due)
        await vacuum(worker.db.url)
    timed = await time_due_queries(workers)
    cases = []
    for seeded, worker, queries in zip(seeds, workers, timed, strict=True):
        seconds, cycles = await worker.drain()
        cases.append(
            {
                "total": seeded.size,
                "due": due,
                "batch": worker.settings.refresher_batch_size,
                "drain_s": round(seconds, 3),
                "refreshes_per_s": round(due / seconds, 1) if seconds else None,
                "cycles": len(cycles),
                "cycle_ms_median": round(statistics.median(cycles) * 1000, 2) if cycles else 0.0,
                "due_query_ms": round(statistics.median(ms for ms, _ in queries), 3),
                "due_query_plan": queries[0][1],
            }
        )
    return cases


def fastest(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest drain of the repeats (load from outside the run only ever slows it down) and
    the median of the due queries' medians, every repeat's figures beside them."""
    best = min(cases, key=lambda case: case["drain_s"])
    return {
        **best,
        "due_query_ms": round(statistics.median(case["due_query_ms"] for case in cases), 3),
        "repeats": [
            {k: case[k] for k in ("drain_s", "cycle_ms_median", "due_query_ms")} for case in cases
        ],
    }


async def refresher_rounds(seeds: list[Seeded], due: int) -> dict[int, dict[str, Any]]:
    """``REFRESH_REPEATS`` rounds, the sizes taking turns within each."""
    workers = [Worker(seeded.settings, seeded.url) for seeded in seeds]
    cases: dict[int, list[dict[str, Any]]] = {seeded.size: [] for seeded in seeds}
    try:
        for _ in range(REFRESH_REPEATS):
            for case in await refresh_round(workers, seeds, due):
                print(f"    {case['total']:,}: {case['refreshes_per_s']} refreshes/s", flush=True)
                cases[case["total"]].append(case)
    finally:
        for worker in workers:
            await worker.close()
    return {size: fastest(found) for size, found in cases.items()}


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


@dataclass
class Seeded:
    """One size, ready: its database, its sandbox holding a grant per connection, the settings a
    refresher needs, and what seeding measured."""

    size: int
    url: URL
    sandbox: Service
    settings: Settings
    target: Target
    figures: dict[str, Any]


def seed_size(stack: ExitStack, plan: CpuPlan, server: URL, size: int) -> Seeded:
    url = stack.enter_context(database.bench_database(server))
    encryption_key = generate_key_entry("scale1")
    sandbox = start_sandbox(plan)
    stack.callback(sandbox.stop)
    print(f"  {size:,}: issuing {size:,} sandbox grants ...", flush=True)
    began = time.perf_counter()
    subject, pairs = issue_grants(sandbox.url, size, EMAIL)
    grants_s = time.perf_counter() - began
    print(f"  {size:,}: seeding {size:,} connections in bulk ...", flush=True)
    with pinned_to(plan.load):
        key, seeded = asyncio.run(prepare(url, KeyRing.parse(encryption_key), pairs, subject))
    print(f"    {seeded['bytes_per_connection']:,.0f} bytes a connection", flush=True)
    settings = load_settings(
        environ={
            "GATEWAY_ENCRYPTION_KEYS": encryption_key,
            "GATEWAY_CONTIO_CLIENT_ID": CLIENT_ID,
            "GATEWAY_CONTIO_CLIENT_SECRET": CLIENT_SECRET,
            "GATEWAY_CONTIO_AUTH_URL": sandbox.url,
            "GATEWAY_CONTIO_API_URL": sandbox.url,
        }
    )
    figures = {"sandbox": {"grants": size, "issue_s": round(grants_s, 1)}, "database": seeded}
    return Seeded(size, url, sandbox, settings, Target(size, url, encryption_key, key), figures)


def run(
    tools: dict[str, str], plan: CpuPlan, bench: BenchSettings, url: URL, work: Path
) -> dict[str, Any]:
    """Each size in a database and a sandbox of its own (``url`` names the server), all seeded
    first, so that the sizes can take turns in every round of what is measured."""
    with ExitStack() as stack:
        port = free_port()
        upstream = nginx.start_upstream(tools["nginx"], "scale-upstream", port, work, plan, "load")
        stack.callback(upstream.stop)
        seeds = [seed_size(stack, plan, url, size) for size in sizes(bench.scale_connections)]
        print(f"  {bench.scale_due:,} due at each size, refreshed, in turns ...", flush=True)
        with pinned_to(plan.load), collector_as_served():
            refreshed = asyncio.run(refresher_rounds(seeds, bench.scale_due))
        for seeded in seeds:
            seeded.figures["sandbox"]["rss_mib"] = round(seeded.sandbox.rss_mib())
            seeded.sandbox.stop()  # its memory back before the proxy is measured
        with pinned_to(plan.load):
            proxied = proxy_cases(
                tools["wrk"],
                plan,
                bench,
                f"http://127.0.0.1:{port}",
                [seeded.target for seeded in seeds],
            )
    cases = [
        {
            "connections": seeded.size,
            **seeded.figures,
            "refresher": refreshed[seeded.size],
            "proxy": proxied[seeded.size],
        }
        for seeded in seeds
    ]
    found: dict[str, Any] = {"connections": bench.scale_connections, "due": bench.scale_due}
    found["sizes"] = cases
    if len(cases) == 2:
        found["large_over_small"] = compare(cases[0], cases[1])
    return found
