"""``python -m bench.instructions``: the gateway's own work per proxied call, in processor
instructions (callgrind) and in Python function calls, repeatable on a busy machine where wall-clock
figures are not.

The gateway's app is driven in this process, without a server: its lifespan is run as an ASGI server
would run it, and each call is an ASGI request, ``GET /proxy/users/<user>/meetings`` with a service
key, the user rotating over ``--users`` seeded connections (as ``make bench`` does). The upstream is
a stub: aiohttp's session inside ``AiohttpUpstream`` is replaced by one that answers at once with a
small JSON body, so ``AiohttpUpstream`` itself still runs and what is counted is the gateway's work,
not aiohttp's or a network's. Logging is as shipped (JSON at INFO, the access log included), written
to a file that is thrown away.

Without options it runs the driver twice in child processes: once under ``valgrind
--tool=callgrind --instr-atstart=no``, switched on (``callgrind_control -i on``) for the measured
calls only, and once with ``sys.setprofile`` counting the Python and C function calls made; it
prints instructions and function calls per proxied call. With ``--cache-max-bytes`` small (its
least, 65536) and ``--users`` a few hundred, every call misses the caches (its token read from the
database, its admission decided again): the cost of a miss instead of a hit. It needs a PostgreSQL server
(``BENCH_DATABASE_URL`` or ``GATEWAY_TEST_DATABASE_URL``; else an embedded one) and valgrind.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

from bench import database, seed
from gateway.kit.crypto import generate_key_entry

WARMUP_ROUNDS = 3  # calls per user before the measured ones: every cache filled, every pool warm
BODY = (
    b'{"meetings": [' + b", ".join(b'{"id": %d, "title": "standup"}' % n for n in range(20)) + b"]}"
)
Message = MutableMapping[str, Any]


class StubContent:
    """The body of a response that has all arrived, as aiohttp's ``StreamReader`` offers it."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def is_eof(self) -> bool:
        return True

    def at_eof(self) -> bool:
        return True

    def read_nowait(self) -> bytes:
        return self._body

    async def readany(self) -> bytes:
        return b""


class StubResponse:
    status = 200

    def __init__(self) -> None:
        self.raw_headers = (
            (b"Content-Type", b"application/json"),
            (b"Content-Length", str(len(BODY)).encode()),
            (b"Date", b"Sun, 06 Dec 2026 09:00:00 GMT"),
            (b"Server", b"nginx"),
            (b"Connection", b"keep-alive"),
        )
        self.content = StubContent(BODY)

    def release(self) -> None:
        pass

    def close(self) -> None:
        pass


class StubSession:
    """What ``AiohttpUpstream`` asks of ``aiohttp.ClientSession``."""

    async def request(self, method: str, url: object, **_options: object) -> StubResponse:
        return StubResponse()

    async def close(self) -> None:
        pass


class Driver:
    """The app, its lifespan started, and a way to make one proxied call."""

    def __init__(self, app: Any, key: str, users: int) -> None:
        self._app = app
        self._key = key
        self._users = users
        self._state: dict[str, Any] = {}
        self._lifespan: asyncio.Task[None] | None = None
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self.statuses: dict[int, int] = {}

    async def start(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self._state}
        self._lifespan = asyncio.create_task(self._app(scope, self._to_app.get, self._from_app.put))
        await self._to_app.put({"type": "lifespan.startup"})
        started = await self._from_app.get()
        if started["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"the app did not start: {started}")
        proxy = self._state["proxy"]
        proxy.upstream._session = StubSession()
        if proxy.feed is not None:  # the caches serve only while it listens
            await asyncio.wait_for(proxy.feed.listening.wait(), 30)

    async def stop(self) -> None:
        await self._to_app.put({"type": "lifespan.shutdown"})
        await self._from_app.get()
        assert self._lifespan is not None
        await self._lifespan

    def scope(self, number: int) -> dict[str, Any]:
        path = f"/proxy/users/{seed.USER_PREFIX}{number % self._users + 1}/meetings"
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "scheme": "http",
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 40000),
            "root_path": "",
            "method": "GET",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [
                (b"host", b"127.0.0.1:8000"),
                (b"authorization", f"Bearer {self._key}".encode()),
                (b"accept", b"application/json"),
            ],
            "state": self._state.copy(),
        }

    async def call(self, number: int) -> None:
        status = 0

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self._app(self.scope(number), receive, send)
        self.statuses[status] = self.statuses.get(status, 0) + 1


def gateway_settings(url: URL, encryption_key: str, cache_max_bytes: int | None = None) -> Any:
    from gateway.kit.db import sync_url
    from gateway.settings import Settings

    for name in [name for name in os.environ if name.startswith(("GATEWAY_", "OTEL_"))]:
        del os.environ[name]
    os.environ.update(
        GATEWAY_DATABASE_URL=sync_url(url),
        GATEWAY_ENCRYPTION_KEYS=encryption_key,
        GATEWAY_CONTIO_CLIENT_ID="sandbox-client",
        GATEWAY_CONTIO_CLIENT_SECRET="sandbox-secret",
        GATEWAY_CONTIO_API_URL="http://127.0.0.1:9",
        GATEWAY_CONTIO_AUTH_URL="http://127.0.0.1:9",
        GATEWAY_PUBLIC_URL="http://127.0.0.1:8000",
    )
    if cache_max_bytes is not None:
        os.environ["GATEWAY_PROXY_CACHE_MAX_BYTES"] = str(cache_max_bytes)
    return Settings()


async def drive(url: URL, encryption_key: str, key: str, arguments: argparse.Namespace) -> float:
    """Make the calls; the function calls counted per call (``--mode=calls``), else 0."""
    from gateway.app import create_app
    from gateway.kit import logs

    settings = gateway_settings(url, encryption_key, arguments.cache_max_bytes)
    counted = 0

    def count(_frame: object, event: str, _arg: object) -> None:
        nonlocal counted
        if event in ("call", "c_call"):
            counted += 1

    with open(os.devnull, "w") as sink:  # noqa: ASYNC230 (before the gateway starts)
        sys.stdout = sink  # the JSON handler writes here, as a served gateway writes to its pipe
        logs.configure("INFO", "json")
        driver = Driver(create_app(settings, url), key, arguments.users)
        await driver.start()
        try:
            for number in range(arguments.users * WARMUP_ROUNDS):
                await driver.call(number)
            driver.statuses.clear()
            if arguments.mode == "calls":
                sys.setprofile(count)
            else:  # callgrind: the parent switches instrumentation on and off around the calls
                signal("ready")
            for number in range(arguments.calls):
                await driver.call(number)
            sys.setprofile(None)
            if arguments.mode != "calls":
                signal("done")
        finally:
            await driver.stop()
            sys.stdout = sys.__stdout__
    if set(driver.statuses) != {200}:
        raise RuntimeError(f"the calls were not all answered 200: {driver.statuses}")
    calls: int = arguments.calls
    return counted / calls


def signal(word: str) -> None:
    """Tell the parent (on stderr) and wait for its answer (on stdin)."""
    sys.stderr.write(word + "\n")
    sys.stderr.flush()
    sys.stdin.readline()


def child(arguments: argparse.Namespace) -> None:
    url = make_url(os.environ["BENCH_INSTRUCTIONS_DATABASE"])
    calls = asyncio.run(
        drive(url, os.environ["BENCH_INSTRUCTIONS_KEYS"], os.environ["BENCH_KEY"], arguments)
    )
    print(f"calls {calls:.1f}", flush=True)


def run_child(
    arguments: argparse.Namespace, mode: str, env: dict[str, str], work: Path
) -> tuple[int, str]:
    """Run the driver in a child (under callgrind for ``instructions``); the instructions it
    counted (0 for ``calls``) and what it printed."""
    command = [
        sys.executable,
        "-m",
        "bench.instructions",
        "--child",
        f"--mode={mode}",
        f"--users={arguments.users}",
        f"--calls={arguments.calls}",
    ]
    if arguments.cache_max_bytes is not None:
        command.append(f"--cache-max-bytes={arguments.cache_max_bytes}")
    out_file = work / f"callgrind.{mode}.out"
    if mode == "instructions":
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out_file}",
            *command,
        ]
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    assert process.stdin is not None and process.stderr is not None
    for line in process.stderr:
        word = line.strip()
        if word in ("ready", "done"):
            if mode == "instructions":
                switch = "on" if word == "ready" else "off"
                subprocess.run(
                    ["callgrind_control", "-i", switch, str(process.pid)],
                    check=True,
                    capture_output=True,
                )
            process.stdin.write("go\n")
            process.stdin.flush()
        elif not word.startswith("=="):  # valgrind's own lines
            sys.stderr.write(line)
    output, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the {mode} driver failed ({process.returncode})")
    if mode == "calls":
        return 0, output
    totals = re.search(r"^totals: (\d+)", out_file.read_text(), re.MULTILINE)
    if totals is None:
        raise RuntimeError(f"no totals in {out_file}")
    return int(totals.group(1)), output


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--users", type=int, default=200, help="seeded users (default 200)")
    parser.add_argument("--calls", type=int, default=2000, help="measured calls (default 2000)")
    parser.add_argument(
        "--cache-max-bytes", type=int, help="GATEWAY_PROXY_CACHE_MAX_BYTES (default: its default)"
    )
    parser.add_argument(
        "--keep", type=Path, help="keep callgrind's output here (for callgrind_annotate)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="instructions", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments)
        return
    server, described = database.server()
    print(f"database: {described}", flush=True)
    with database.bench_database(server) as url, tempfile.TemporaryDirectory() as work:
        encryption_key = generate_key_entry("bench1")
        env = {
            "BENCH_INSTRUCTIONS_DATABASE": url.render_as_string(hide_password=False),
            "BENCH_INSTRUCTIONS_KEYS": encryption_key,
            "BENCH_KEY": asyncio.run(
                seed.proxy_users(
                    url,
                    encryption_key,
                    arguments.users,
                    client=f"instructions-{uuid.uuid4().hex[:6]}",
                )
            ),
        }
        _, output = run_child(arguments, "calls", env, Path(work))
        calls = float(output.split()[-1])
        instructions, _ = run_child(arguments, "instructions", env, Path(work))
        if arguments.keep is not None:
            shutil.copy(Path(work) / "callgrind.instructions.out", arguments.keep)
    per_call = instructions / arguments.calls
    print(
        f"{arguments.calls} proxied calls, {arguments.users} users: "
        f"{per_call:,.0f} instructions a call, {calls:.1f} function calls a call",
        flush=True,
    )


if __name__ == "__main__":
    main()
