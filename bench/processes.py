"""The servers the benchmark starts: each a child process whose output is drained (like a container
runtime reading stdout), stopped by its own pid when the run ends."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO

READY_TIMEOUT = 60.0
TAIL_LINES = 40


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Drain(threading.Thread):
    """Reads a child's output to its end, counting lines and keeping the last few."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self._stream = stream
        self.lines = 0
        self.bytes = 0
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)

    def run(self) -> None:
        for line in self._stream:
            self.lines += 1
            self.bytes += len(line)
            self.tail.append(line.decode("utf-8", "replace").rstrip())


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    drain: Drain = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

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
