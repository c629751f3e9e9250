"""One change feed per process, as real processes on a database of their own: ``gateway serve
--workers 2`` and ``gateway worker`` hold one ``LISTEN`` connection each, over which the serving
processes' caches are invalidated and every process's providers reloaded; and a reload requested
while the feeds were down (their backends terminated, the database refusing new connections) is
applied once they are back. Without caches (a TTL of 0) the feed carries the reload requests alone."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import URL

from gateway.cli import cli
from gateway.kit.crypto import generate_key_entry
from gateway.kit.db import Database, sync_url
from gateway.kit.feed import APPLICATION_NAME
from gateway.providers.reloading import CHANNEL
from tests.fixtures.database import fresh_database
from tests.fixtures.servers import free_port
from tests.lifecycle.processes import REPO, STOP_TIMEOUT_SECONDS, Process, hermetic_env
from tests.proxy.conftest import Client, bearer, change_client, make_client
from tests.serving.conftest import PROCESSES
from tests.serving.reach import WITHIN, each_process

LISTENING = "change feed is listening"


@dataclass
class Machine:
    """The serving processes, the worker, their database and providers file."""

    serve: Process
    worker_log: Path
    url: URL
    env: dict[str, str]
    providers_file: Path

    def write(self, *names: str) -> None:
        self.providers_file.write_text("\n".join(provider(name) for name in names))

    def logs(self) -> tuple[str, str]:
        return (
            self.serve.log_path.read_text(errors="replace"),
            self.worker_log.read_text(errors="replace"),
        )


@contextmanager
def worker(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "worker"],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def provider(name: str) -> str:
    return (
        f"[providers.{name}]\n"
        f'authorize_url = "https://{name}.example/oauth/authorize"\n'
        f'token_url = "https://{name}.example/oauth/token"\n'
        f'api_base_url = "https://api.{name}.example/"\n'
        f'client_id = "gw-{name}"\n'
        f'client_secret = "{name}-secret"\n'
    )


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WITHIN
    while not await check():
        assert time.monotonic() < deadline, f"not within {WITHIN}s: {what}"
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def feed_database_url(server_url: URL) -> Iterator[URL]:
    with fresh_database(server_url, "gw_feeds") as url:
        yield url


@pytest.fixture(scope="module")
async def machine(feed_database_url: URL) -> AsyncIterator[Machine]:
    with tempfile.TemporaryDirectory(prefix="gateway-feed-") as directory:
        providers_file = Path(directory) / "providers.toml"
        port = free_port()
        env = hermetic_env(
            {
                "GATEWAY_DATABASE_URL": sync_url(feed_database_url),
                "GATEWAY_DATABASE_POOL_SIZE": "2",
                "GATEWAY_ENCRYPTION_KEYS": generate_key_entry("feed"),
                "GATEWAY_PROVIDERS_FILE": str(providers_file),
                "GATEWAY_DEFAULT_PROVIDER": "acme",
                "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "GATEWAY_LOG_FORMAT": "text",
                "GATEWAY_LOG_LEVEL": "INFO",
            }
        )
        serve = Process(
            "gateway-feed",
            ["serve", "--no-worker", "--workers", str(PROCESSES)],
            env,
            Path(directory),
            port=port,
            ready_path="/readyz",
        )
        machine = Machine(
            serve, Path(directory) / "worker.log", feed_database_url, env, providers_file
        )
        machine.write("acme")
        serve.start()
        try:
            with worker(env, machine.worker_log):
                await serve.wait_ready()

                async def all_listening() -> bool:
                    served, worked = machine.logs()
                    return served.count(LISTENING) == PROCESSES and LISTENING in worked

                await until(all_listening, "every process's feed listens")
                yield machine
        finally:
            serve.stop()


async def feed_connections(server: asyncpg.Connection, url: URL) -> int:
    """The change feeds' connections to ``url``'s database, seen from ``server`` (connected to
    another database, so that it can look while ``url``'s refuses new connections)."""
    count = await server.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2",
        APPLICATION_NAME,
        url.database,
    )
    assert isinstance(count, int)
    return count


@pytest.fixture
async def server(server_url: URL) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(sync_url(server_url))
    try:
        yield connection
    finally:
        await connection.close()


async def proxied_status(client: httpx.AsyncClient, caller: Client) -> int:
    response = await client.get("/proxy/users/user-1/v1/me", headers=bearer(caller.key))
    return response.status_code


async def known(client: httpx.AsyncClient, caller: Client, name: str) -> bool:
    response = await client.post(
        "/v1/connect-sessions",
        json={"user_id": "user-1", "provider": name},
        headers=bearer(caller.key),
    )
    return response.status_code == 201


def reload_command(machine: Machine, monkeypatch: pytest.MonkeyPatch) -> int:
    for key, value in machine.env.items():
        monkeypatch.setenv(key, value)
    return CliRunner().invoke(cli, ["providers", "reload"]).exit_code


async def test_each_process_hears_caches_and_reloads_over_its_one_feed_connection(
    machine: Machine, server: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    one_each = PROCESSES + 1  # a feed per serving process, one in the worker
    assert await feed_connections(server, machine.url) == one_each
    db = Database(machine.url, pool_size=1)
    try:
        caller = await make_client(db, ["GET /**"], ("connect", "proxy"))
        confined = await make_client(db, ["GET /**"], ("connect", "proxy"), own_users_only=True)
        async with each_process(machine.serve.url, PROCESSES) as processes:
            for client in processes.values():
                for who in (caller, confined):  # authenticated, so now cached in each process
                    assert await proxied_status(client, who) != 401

            await change_client(db, confined.name, disabled=True)

            async def refused_everywhere() -> bool:
                statuses = [await proxied_status(c, confined) for c in processes.values()]
                return statuses == [401] * PROCESSES

            await until(refused_everywhere, "every process forgets the disabled client's key")
            for client in processes.values():
                assert await proxied_status(client, caller) != 401, "the other client unaffected"

            machine.write("acme", "beta")
            assert await asyncio.to_thread(reload_command, machine, monkeypatch) == 0

            async def reloaded_everywhere() -> bool:
                served = [await known(c, caller, "beta") for c in processes.values()]
                _, worked = machine.logs()
                return all(served) and "providers reloaded on notification: acme, beta" in worked

            await until(reloaded_everywhere, "every process reloads its providers")
    finally:
        await db.dispose()
    assert await feed_connections(server, machine.url) == one_each


async def test_a_reload_requested_while_the_feeds_were_down_is_applied_once_they_are_back(
    machine: Machine, server: asyncpg.Connection
) -> None:
    name = machine.url.database
    notifier = await asyncpg.connect(sync_url(machine.url))
    try:
        machine.write("acme", "beta", "gamma")
        # No new connection to the database from here on: the feeds cannot come back yet.
        await server.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await server.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = $1 AND datname = $2",
            APPLICATION_NAME,
            name,
        )

        async def all_down() -> bool:
            return await feed_connections(server, machine.url) == 0

        await until(all_down, "every feed's connection is gone")
        await notifier.execute("SELECT pg_notify($1, '')", CHANNEL)
        assert await feed_connections(server, machine.url) == 0, "the request went unheard"
    finally:
        await server.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await notifier.close()

    db = Database(machine.url, pool_size=1)
    try:
        caller = await make_client(db, ["GET /**"], ("connect", "proxy"))
        async with each_process(machine.serve.url, PROCESSES) as processes:

            async def applied_everywhere() -> bool:
                served = [await known(c, caller, "gamma") for c in processes.values()]
                _, worked = machine.logs()
                caught_up = (
                    "providers reloaded on catching up with the change feed: acme, beta, gamma"
                )
                return all(served) and caught_up in worked

            await until(applied_everywhere, "every process catches up with the missed reload")
    finally:
        await db.dispose()

    async def one_each_again() -> bool:
        return await feed_connections(server, machine.url) == PROCESSES + 1

    await until(one_each_again, "every feed listens again, on one connection each")


async def test_without_caches_the_feed_still_carries_the_reload_requests(
    machine: Machine, server: asyncpg.Connection, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **machine.env,
        "GATEWAY_PROXY_CACHE_TTL_SECONDS": "0",
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    uncached = Process(
        "gateway-uncached", ["serve", "--no-worker"], env, tmp_path, port=port, ready_path="/readyz"
    )
    uncached.start()
    try:
        await uncached.wait_ready()

        async def listening() -> bool:
            return LISTENING in uncached.log_path.read_text(errors="replace")

        await until(listening, "the uncached process's feed listens")
        listened = [
            line for line in uncached.log_path.read_text().splitlines() if LISTENING in line
        ]
        assert listened == [listened[0]] and listened[0].endswith(f"{LISTENING} on {CHANNEL}")
        assert await feed_connections(server, machine.url) == PROCESSES + 2

        db = Database(machine.url, pool_size=1)
        try:
            caller = await make_client(db, [], ("connect",))
        finally:
            await db.dispose()
        machine.write("acme", "beta", "gamma", "delta")
        notifier = await asyncpg.connect(sync_url(machine.url))
        try:
            await notifier.execute("SELECT pg_notify($1, '')", CHANNEL)
        finally:
            await notifier.close()

        async with httpx.AsyncClient(base_url=uncached.url, trust_env=False, timeout=10) as client:

            async def reloaded() -> bool:
                return await known(client, caller, "delta")

            await until(reloaded, "the uncached process reloads on the notification")
    finally:
        uncached.stop()
