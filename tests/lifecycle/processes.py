"""The product as separate processes: the Contio sandbox and gateway replicas, each a real
``python -m gateway`` subprocess on its own loopback port, writing its log to a file.

A test drives them as an operator would: start, wait until ready, SIGKILL, SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0


class Process:
    """``python -m gateway <command> --port <port>`` on 127.0.0.1, ready once ``ready_path``
    answers 200; its output goes to ``<log_dir>/<name>.log``."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        env: Mapping[str, str],
        log_dir: Path,
        *,
        port: int,
        ready_path: str,
    ) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}.log"
        self._command = [sys.executable, "-m", "gateway", *command, "--port", str(self.port)]
        self.env = dict(env)
        self._ready_path = ready_path
        self._popen: subprocess.Popen[bytes] | None = None
        self._ready = False

    def start(self) -> Process:
        """Start without waiting; ``wait_ready`` waits (start several, then wait for all)."""
        assert self._popen is None or self._popen.poll() is not None, f"{self.name} is running"
        self._ready = False
        with self.log_path.open("ab") as log:
            self._popen = subprocess.Popen(
                self._command, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    async def wait_ready(self, within: float = START_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=1.0, trust_env=False) as client:
            while True:
                if not self.alive:
                    raise RuntimeError(f"{self.name} exited at start; see {self.log_path}")
                try:
                    if (await client.get(self.url + self._ready_path)).status_code == 200:
                        self._ready = True
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self.name} not ready after {within}s; see {self.log_path}"
                    )
                await asyncio.sleep(0.05)

    @property
    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        """Its exit status once it has exited (negative: the signal that ended it); else None."""
        return None if self._popen is None else self._popen.poll()

    @property
    def ready(self) -> bool:
        """Alive and answered ``ready_path`` since it was last started."""
        return self._ready and self.alive

    def send_signal(self, signum: signal.Signals) -> None:
        assert self._popen is not None
        self._popen.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL: no lease released, no transaction finished, no response sent."""
        assert self._popen is not None
        self._popen.send_signal(signal.SIGKILL)
        self._popen.wait()

    def terminate(self) -> None:
        """SIGTERM: a graceful shutdown begins; ``stop`` waits for it."""
        if self.alive:
            assert self._popen is not None
            self._popen.terminate()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self._popen is None or self._popen.poll() is not None:
            return
        self._popen.terminate()
        try:
            self._popen.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self._popen.kill()
            self._popen.wait()


def hermetic_env(values: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any GATEWAY_* setting, plus ``values``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GATEWAY_")}
    env.update(values)
    return env
