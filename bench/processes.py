"""The servers the benchmark starts: each a child process whose output is drained (like a container
runtime reading stdout), stopped by its own pid when the run ends."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

READY_TIMEOUT = 60.0
TAIL_LINES = 40
CHUNK_BYTES = 1 << 16
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Drain(threading.Thread):
    """Reads a child's output to its end, counting lines and keeping the last few.

    It reads what the pipe holds at once, as a container runtime does, rather than a line at a
    time: at thousands of access-log lines a second a Python loop per line would cost more than
    the child's own writing, and the run is about the child."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self._stream = stream
        self.lines = 0
        self.bytes = 0
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._partial = b""

    def run(self) -> None:
        read = getattr(self._stream, "read1", self._stream.read)
        while chunk := read(CHUNK_BYTES):
            self.take(chunk)
        if self._partial:
            self.lines += 1
            self.tail.append(self._partial.decode("utf-8", "replace").rstrip())

    def take(self, chunk: bytes) -> None:
        """Count ``chunk``'s lines and keep the last few (a line may span chunks)."""
        self.bytes += len(chunk)
        self.lines += chunk.count(b"\n")
        text = self._partial + chunk
        complete, _, partial = text.rpartition(b"\n")
        self._partial = partial[-CHUNK_BYTES:]  # a line without end keeps only its last part
        if complete:
            last = complete.rsplit(b"\n", TAIL_LINES)[-TAIL_LINES:]
            self.tail.extend(line.decode("utf-8", "replace").rstrip() for line in last)


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    drain: Drain = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """Processor time the server has used so far: the process and its children (nginx's
        worker is the master's child), user and system, from /proc."""
        return sum(_cpu_ticks(pid) for pid in (self.pid, *_children(self.pid))) / CLOCK_TICKS

    def rss_mib(self) -> float:
        """Resident memory of the process, from /proc."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError(f"{self.name}: no VmRSS in /proc/{self.pid}/status")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.drain.join(timeout=5)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _cpu_ticks(pid: int) -> int:
    """utime + stime of a process (its fields 14 and 15, counted after the command's parenthesis)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except FileNotFoundError:  # a child that has just gone
        return 0
    return int(fields[11]) + int(fields[12])


def start(
    name: str,
    command: list[str],
    *,
    url: str,
    ready_path: str = "/",
    env: Mapping[str, str] | None = None,
) -> Service:
    """Start ``command`` and wait until ``url + ready_path`` answers (any HTTP status)."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
    )
    assert process.stdout is not None
    drain = Drain(process.stdout)
    drain.start()
    service = Service(name, process, url, drain)
    try:
        wait_ready(service, url + ready_path)
    except BaseException:
        service.stop()
        raise
    return service


def wait_ready(service: Service, url: str, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if service.process.poll() is not None:
            output = "\n".join(service.drain.tail)
            raise RuntimeError(f"{service.name} exited at start-up:\n{output}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (a loopback URL we built)
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{service.name} did not answer at {url} in {timeout:.0f}s"
                ) from None
            time.sleep(0.1)
