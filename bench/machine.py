"""The machine the figures come from: its tools (installed when missing), its cores and how the
load generator and the servers are pinned apart."""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.kit.collector import tune_collector

# Debian's packages: nginx-light is nginx without the modules a static answer and a proxy do not use.
TOOLS = {"wrk": "wrk", "nginx": "nginx-light"}
SBIN = ("/usr/sbin", "/sbin")


class MissingTool(RuntimeError):
    """Raised when wrk or nginx is missing and apt-get could not install it."""


def tool(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN))


def ensure_tools() -> dict[str, str]:
    """Paths to wrk and nginx, installed from Debian's packages first when missing."""
    missing = [package for name, package in TOOLS.items() if tool(name) is None]
    if missing:
        print(f"installing {', '.join(missing)} from Debian's packages", flush=True)
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
            subprocess.run(
                [*sudo, "apt-get", "install", "-y", "-qq", *missing], check=True, env=env
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            raise MissingTool(f"apt-get could not install {', '.join(missing)}: {exc}") from exc
    found = {name: tool(name) for name in TOOLS}
    absent = [name for name, path in found.items() if path is None]
    if absent:
        raise MissingTool(f"{', '.join(absent)} still missing after apt-get")
    return {name: path for name, path in found.items() if path is not None}


@dataclass(frozen=True)
class CpuPlan:
    """Which cores the load generator (and the upstream) get, and which the server under test."""

    load: str | None
    servers: str | None

    def pinned(self, command: list[str], role: str) -> list[str]:
        cpus = self.load if role == "load" else self.servers
        return ["taskset", "-c", cpus, *command] if cpus is not None else command

    def describe(self) -> str:
        if self.load is None:
            return "not pinned (one core, or no taskset)"
        return (
            f"wrk, the upstream nginx and the bench (which drains the servers' output) on CPU "
            f"{self.load}; "
            f"the server under test on CPU {self.servers}"
        )


@contextlib.contextmanager
def pinned_to(cpus: str | None) -> Iterator[None]:
    """This process (and its threads) on ``cpus`` for a while: on the load generator's core while
    it reads the servers' output or plays the refresher, so that none of its work is charged to
    the server under test."""
    before = os.sched_getaffinity(0)
    if cpus is not None:
        os.sched_setaffinity(0, {int(cpu) for cpu in cpus.split(",")})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


@contextlib.contextmanager
def collector_as_served() -> Iterator[None]:
    """This process's garbage collector tuned as a gateway process tunes its own
    (``kit.collector``) for a while: while it plays the refresher, and while it measures the token
    endpoint with the refresher's client."""
    threshold = gc.get_threshold()
    tune_collector()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def cpu_plan() -> CpuPlan:
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or shutil.which("taskset") is None:
        return CpuPlan(None, None)
    return CpuPlan(str(cpus[0]), ",".join(str(cpu) for cpu in cpus[1:]))


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "unknown"
    text = (done.stdout + done.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def describe(plan: CpuPlan, tools: dict[str, str]) -> dict[str, Any]:
    cpuinfo = _read("/proc/cpuinfo")
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    memory = re.search(r"^MemTotal:\s*(\d+) kB", _read("/proc/meminfo"), re.MULTILINE)
    release = re.search(r'^PRETTY_NAME="?([^"\n]+)', _read("/etc/os-release"), re.MULTILINE)
    return {
        "cpu_model": model.group(1) if model else platform.processor() or "unknown",
        "cpus": os.cpu_count(),
        "memory_gib": round(int(memory.group(1)) / 2**20, 1) if memory else None,
        "os": release.group(1) if release else platform.platform(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "pinning": plan.describe(),
        "wrk": _first_line([tools["wrk"], "-v"]),
        "nginx": _first_line([tools["nginx"], "-v"]),
    }


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()
