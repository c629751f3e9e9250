"""The proxy benchmark: every target at every concurrency, rounds interleaved, then the soak."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from bench import results, wrk
from bench.machine import CpuPlan
from bench.processes import Service
from bench.results import Sample
from bench.settings import BenchSettings
from bench.targets import TARGETS, Targets

SCRIPT = "proxy.lua"
WARMUP_CONCURRENCY = 32
SOAK_SAMPLE_SECONDS = 5.0


def warm_up(tool: str, url: str, seconds: float, plan: CpuPlan, env: Mapping[str, str]) -> None:
    """Load that does not count, right before each point: it fills pools and, for the gateway,
    its caches (entries a replica has not been asked for within its TTL are read again, and
    traffic that pauses for minutes is not what a gateway in front of busy services sees)."""
    wrk.run(
        tool,
        url,
        script=SCRIPT,
        connections=WARMUP_CONCURRENCY,
        duration=seconds,
        plan=plan,
        env=env,
    )


def matrix(
    tool: str,
    targets: Targets,
    settings: BenchSettings,
    plan: CpuPlan,
    env: Mapping[str, str],
) -> list[Sample]:
    """Each round measures every (concurrency, target) once; the targets' order rotates, so no
    target always follows the same neighbour or always runs first."""
    samples = []
    total = settings.rounds * len(settings.concurrency) * len(TARGETS)
    for round_number in range(settings.rounds):
        for index, concurrency in enumerate(settings.concurrency):
            shift = (round_number + index) % len(TARGETS)
            for target in TARGETS[shift:] + TARGETS[:shift]:
                server = targets.services[target]
                warm_up(tool, server.url, settings.warmup, plan, env)
                cpu_before = server.cpu_seconds()
                measured = wrk.run(
                    tool,
                    server.url,
                    script=SCRIPT,
                    connections=concurrency,
                    duration=settings.duration,
                    plan=plan,
                    env=env,
                )
                cpu_us = (server.cpu_seconds() - cpu_before) * 1e6 / max(1, measured.requests)
                samples.append(
                    Sample(
                        target=target,
                        concurrency=concurrency,
                        round=round_number + 1,
                        rps=round(measured.rps, 1),
                        p50_ms=round(measured.p50_ms, 3),
                        p99_ms=round(measured.p99_ms, 3),
                        requests=measured.requests,
                        failed=measured.failed,
                        cpu_us=round(cpu_us, 1),
                    )
                )
                print(
                    f"  [{len(samples):>3}/{total}] round {round_number + 1} {target:<15} "
                    f"c={concurrency:<4} {measured.rps:>9,.0f} req/s  p50 {measured.p50_ms:.3f} "
                    f"ms  p99 {measured.p99_ms:.3f} ms  server CPU {cpu_us:.0f} us a call"
                    + (f"  {measured.failed} FAILED" if measured.failed else ""),
                    flush=True,
                )
    return samples


class RssSampler(threading.Thread):
    def __init__(self, service: Service) -> None:
        super().__init__(daemon=True)
        self._service = service
        self._stop_event = threading.Event()
        self._began = time.monotonic()
        self.samples: list[tuple[float, float]] = [(0.0, service.rss_mib())]

    def run(self) -> None:
        while not self._stop_event.wait(SOAK_SAMPLE_SECONDS):
            self.samples.append((time.monotonic() - self._began, self._service.rss_mib()))

    def finish(self) -> list[tuple[float, float]]:
        self._stop_event.set()
        self.join()
        self.samples.append((time.monotonic() - self._began, self._service.rss_mib()))
        return self.samples


def soak(
    tool: str,
    targets: Targets,
    settings: BenchSettings,
    plan: CpuPlan,
    env: Mapping[str, str],
) -> dict[str, Any]:
    """The gateway under steady load for ``soak_seconds``, its RSS sampled throughout."""
    gateway = targets.services["gateway"]
    warm_up(tool, gateway.url, settings.warmup, plan, env)
    sampler = RssSampler(gateway)
    sampler.start()
    try:
        measured = wrk.run(
            tool,
            gateway.url,
            script=SCRIPT,
            connections=settings.soak_concurrency,
            duration=settings.soak_seconds,
            plan=plan,
            env=env,
        )
    finally:
        samples = sampler.finish()
    return {
        "seconds": settings.soak_seconds,
        "concurrency": settings.soak_concurrency,
        "requests": measured.requests,
        "failed": measured.failed,
        "rps": round(measured.rps, 1),
        "p50_ms": round(measured.p50_ms, 3),
        "p99_ms": round(measured.p99_ms, 3),
        "memory": results.memory(samples),
    }
