"""One measured point: wrk with one thread and ``connections`` connections for ``duration`` seconds."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.machine import CpuPlan

LUA = Path(__file__).parent / "lua"
MARKER = "BENCH_RESULT "
TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Measured:
    requests: int
    seconds: float
    failed: int  # connect, read, write and timeout errors plus non-2xx/3xx answers
    p50_ms: float
    p90_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        """Answered requests per second; failures do not count."""
        return (self.requests - self.failed) / self.seconds if self.seconds else 0.0


def parse(output: str) -> Measured:
    line = next((ln for ln in output.splitlines() if ln.startswith(MARKER)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{output[-2000:]}")
    found = json.loads(line[len(MARKER) :])
    errors = found["errors"]
    return Measured(
        requests=found["requests"],
        seconds=found["duration_us"] / 1e6,
        failed=sum(errors[kind] for kind in ("connect", "read", "write", "status", "timeout")),
        p50_ms=found["p50_us"] / 1000,
        p90_ms=found["p90_us"] / 1000,
        p99_ms=found["p99_us"] / 1000,
    )


def run(
    wrk: str,
    url: str,
    *,
    script: str,
    connections: int,
    duration: float,
    plan: CpuPlan,
    env: Mapping[str, str],
) -> Measured:
    command = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={TIMEOUT_SECONDS}s",
        "-s",
        str(LUA / script),
        url,
    ]
    done = subprocess.run(
        plan.pinned(command, "load"),
        capture_output=True,
        text=True,
        env={**os.environ, **env, "BENCH_LUA_DIR": str(LUA)},
        timeout=duration + 60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return parse(done.stdout)
