"""The scale part's proxy: a gateway started cold (``gateway serve`` with
``GATEWAY_PROXY_CACHE_MAX_BYTES``) under wrk's Zipf mix over every user (``lua/zipf.lua``), its
throughput in consecutive windows while the database's transactions and rows read are sampled
every second (``pg_stat_database``: the gateway is the only client then); then, warm, its
throughput and processor time per call over ``UNIFORM_USERS`` users in turn and over the Zipf mix
(``BENCH_ROUNDS`` rounds of each, interleaved; the medians), and its resident memory.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from typing import Any

import asyncpg
from sqlalchemy.engine import URL

from bench import wrk
from bench.machine import CpuPlan
from bench.settings import BenchSettings
from bench.targets import start_gateway
from gateway.kit.db import sync_url

UNIFORM_USERS = 5_000
UNIFORM_WARMUP_SECONDS = 15.0
CONCURRENCY = 32
COLD_WINDOWS = 10
WINDOW_SECONDS = 3
SAMPLE_SECONDS = 1.0
WARM_SHARE = 0.9  # a window at this share of the warm throughput counts as warm
READS = """
SELECT xact_commit + xact_rollback, tup_returned + tup_fetched
FROM pg_stat_database WHERE datname = current_database()
"""


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
        rounds = []
        for _ in range(bench.rounds):
            pair = []
            for script, env in (("proxy.lua", uniform), ("zipf.lua", zipf)):
                cpu = gateway.cpu_seconds()
                measured = measure(script, env, bench.duration)
                cpu_us = (gateway.cpu_seconds() - cpu) * 1e6 / max(1, measured.requests)
                pair.append((measured, cpu_us))
            rounds.append(pair)
        rss = gateway.rss_mib()
    finally:
        gateway.stop()
    flat = statistics.median(pair[0][0].rps for pair in rounds)
    skewed = statistics.median(pair[1][0].rps for pair in rounds)
    flat_cpu = statistics.median(pair[0][1] for pair in rounds)
    skewed_cpu = statistics.median(pair[1][1] for pair in rounds)
    return {
        "cache_max_bytes": bench.scale_cache_bytes,
        "concurrency": CONCURRENCY,
        "cold_windows": windows,
        "warm_after_s": warm_after(windows, skewed),
        "uniform_users": UNIFORM_USERS,
        "rounds": [[round(u.rps, 1), round(z.rps, 1)] for (u, _), (z, _) in rounds],
        "uniform_rps": round(flat, 1),
        "zipf_rps": round(skewed, 1),
        "zipf_p99_ms": round(statistics.median(pair[1][0].p99_ms for pair in rounds), 3),
        "zipf_over_uniform": round(skewed / flat, 3) if flat else None,
        # The gateway's processor time per call (from /proc): the same comparison, less at the
        # mercy of whatever else the machine runs.
        "uniform_cpu_us": round(flat_cpu, 1),
        "zipf_cpu_us": round(skewed_cpu, 1),
        "uniform_cpu_over_zipf_cpu": round(flat_cpu / skewed_cpu, 3) if skewed_cpu else None,
        "failed": sum(u.failed + z.failed for (u, _), (z, _) in rounds)
        + sum(w["failed"] for w in windows),
        "rss_start_mib": round(rss_start, 1),
        "rss_mib": round(rss, 1),
    }
