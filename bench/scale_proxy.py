"""The scale part's proxy: a gateway started cold (``gateway serve`` with
``GATEWAY_PROXY_CACHE_MAX_BYTES``) under wrk's Zipf mix over every user (``lua/zipf.lua``), its
throughput in consecutive windows while the database's transactions and rows read are sampled
every second (``pg_stat_database``: the gateway is the only client then); then, warm, its
throughput and processor time per call over ``UNIFORM_USERS`` users in turn and over the Zipf mix
(``BENCH_ROUNDS`` rounds, the sizes' gateways taking turns within each; the medians), and its
resident memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.engine import URL

from bench import wrk
from bench.machine import CpuPlan
from bench.processes import Service
from bench.settings import BenchSettings
from bench.targets import start_gateway
from gateway.kit.db import sync_url

UNIFORM_USERS = 5_000
UNIFORM_WARMUP_SECONDS = 15.0
# The first round's uncounted Zipf mix: long enough for the caches to reach their steady state
# (the busiest users' entries in, the tail's coming and going) after the cold windows. A cache
# sized for a million users fills in minutes: at 5,000 calls a second the users not yet met still
# make 14 % of the calls after one minute, and 9 % after four (``bench.zipf``'s mix).
ZIPF_WARMUP_SECONDS = 240.0
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


@dataclass(frozen=True)
class Target:
    """One size's database, the key its connections are sealed under, and a client's key."""

    size: int
    url: URL
    encryption_key: str
    key: str


class Load:
    """wrk against one gateway, from the load generator's core, at ``CONCURRENCY``."""

    def __init__(self, tool: str, plan: CpuPlan, gateway: Service) -> None:
        self._tool, self._plan, self.gateway = tool, plan, gateway

    def run(self, script: str, env: dict[str, str], seconds: float) -> wrk.Measured:
        return wrk.run(
            self._tool,
            self.gateway.url,
            script=script,
            connections=CONCURRENCY,
            duration=seconds,
            plan=self._plan,
            env=env,
        )

    def timed(self, script: str, env: dict[str, str], seconds: float) -> tuple[wrk.Measured, float]:
        """A run, and the gateway's processor time per answered call (µs, from /proc)."""
        cpu = self.gateway.cpu_seconds()
        measured = self.run(script, env, seconds)
        return measured, (self.gateway.cpu_seconds() - cpu) * 1e6 / max(1, measured.requests)


def cold_start(load: Load, target: Target, sampler: DbReads) -> list[dict[str, Any]]:
    """``COLD_WINDOWS`` windows of the Zipf mix on a gateway just started, each with the
    database's reads while it ran. ``sampler`` began before the gateway was started: the first
    window's reads run from then, so the process's own start-up reads always fall in it."""
    zipf = zipf_env(target.key, target.size)
    windows: list[dict[str, Any]] = []
    starts, ends = [], []
    for number in range(COLD_WINDOWS):
        starts.append(0.0 if number == 0 else time.monotonic() - sampler.began)
        measured = load.run("zipf.lua", zipf, WINDOW_SECONDS)
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
    return windows


def warm(
    rounds: list[list[tuple[wrk.Measured, float]]], windows: list[dict[str, Any]]
) -> dict[str, Any]:
    """The figures of one gateway's rounds, each ``[(uniform, its CPU), (zipf, its CPU)]``."""
    flat = statistics.median(pair[0][0].rps for pair in rounds)
    skewed = statistics.median(pair[1][0].rps for pair in rounds)
    flat_cpu = statistics.median(pair[0][1] for pair in rounds)
    skewed_cpu = statistics.median(pair[1][1] for pair in rounds)
    return {
        "cold_windows": windows,
        "warm_after_s": warm_after(windows, skewed),
        "uniform_users": UNIFORM_USERS,
        "rounds": [[round(u.rps, 1), round(z.rps, 1)] for (u, _), (z, _) in rounds],
        "uniform_rps": round(flat, 1),
        "zipf_rps": round(skewed, 1),
        "zipf_p99_ms": round(statistics.median(pair[1][0].p99_ms for pair in rounds), 3),
        "zipf_over_uniform": round(skewed / flat, 3) if flat else None,
        # The gateway's processor time per call: the same comparison, less at the mercy of
        # whatever else the machine runs.
        "uniform_cpu_us": round(flat_cpu, 1),
        "zipf_cpu_us": round(skewed_cpu, 1),
        "uniform_cpu_over_zipf_cpu": round(flat_cpu / skewed_cpu, 3) if skewed_cpu else None,
        "failed": sum(u.failed + z.failed for (u, _), (z, _) in rounds)
        + sum(w["failed"] for w in windows),
    }


def cache_env(bench: BenchSettings) -> dict[str, str]:
    """The scale part's gateway's cache settings: its byte bound and its TTL."""
    return {
        "GATEWAY_PROXY_CACHE_MAX_BYTES": str(bench.scale_cache_bytes),
        "GATEWAY_PROXY_CACHE_TTL_SECONDS": f"{bench.scale_cache_ttl:g}",
    }


def proxy_cases(
    tool: str, plan: CpuPlan, bench: BenchSettings, upstream: str, targets: list[Target]
) -> dict[int, dict[str, Any]]:
    """A gateway per target, each started cold under its Zipf mix in turn; then rounds in which
    every gateway in turn gets ``bench.warmup`` seconds of its Zipf mix uncounted, then
    ``bench.duration`` over ``UNIFORM_USERS`` users and as long over its Zipf mix."""
    found: dict[int, dict[str, Any]] = {}
    with contextlib.ExitStack() as stack:
        loads: dict[int, Load] = {}
        for target in targets:
            sampler = DbReads(target.url)
            sampler.start()
            gateway = start_gateway(
                f"gateway-{target.size}",
                plan,
                target.url,
                upstream,
                target.encryption_key,
                (),
                **cache_env(bench),
            )
            stack.callback(gateway.stop)
            loads[target.size] = Load(tool, plan, gateway)
            print(f"  {target.size:,}: a gateway starting cold under the Zipf mix ...", flush=True)
            found[target.size] = {"rss_start_mib": round(gateway.rss_mib(), 1)}
            found[target.size]["windows"] = cold_start(loads[target.size], target, sampler)
        rounds: dict[int, list[list[tuple[wrk.Measured, float]]]] = {t.size: [] for t in targets}
        for number in range(bench.rounds):
            print(f"  warm, round {number + 1} of {bench.rounds} ...", flush=True)
            for target in targets:
                load = loads[target.size]
                zipf = zipf_env(target.key, target.size)
                uniform = zipf_env(target.key, UNIFORM_USERS)
                # The first round calls every one of the 5,000 users before it counts, and gives
                # the Zipf mix time to reach its steady state.
                first = number == 0
                if first:
                    load.run("proxy.lua", uniform, max(bench.warmup, UNIFORM_WARMUP_SECONDS))
                load.run("zipf.lua", zipf, max(bench.warmup, ZIPF_WARMUP_SECONDS * first))
                flat = load.timed("proxy.lua", uniform, bench.duration)
                rounds[target.size].append([flat, load.timed("zipf.lua", zipf, bench.duration)])
        for target in targets:
            start = found[target.size]
            found[target.size] = {
                "cache_max_bytes": bench.scale_cache_bytes,
                "cache_ttl_s": bench.scale_cache_ttl,
                "concurrency": CONCURRENCY,
                **warm(rounds[target.size], start["windows"]),
                "rss_start_mib": start["rss_start_mib"],
                "rss_mib": round(loads[target.size].gateway.rss_mib(), 1),
            }
    return found
