"""Reloading the providers file without a restart: SIGHUP to a real ``gateway serve`` process, and
``gateway providers reload`` reaching two running processes; a bad file is refused and the
previous providers kept. Each provider is seen from the outside, by opening a connect session."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Iterator
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
from gateway.providers.reloading import CHANNEL
from tests.fixtures.database import fresh_database
from tests.fixtures.servers import free_port
from tests.fixtures.stack import new_client
from tests.lifecycle.processes import Process, hermetic_env

DEADLINE_SECONDS = 20.0


def provider(name: str, *, client_id: bool = True) -> str:
    return (
        f"[providers.{name}]\n"
        f'authorize_url = "https://{name}.example/oauth/authorize"\n'
        f'token_url = "https://{name}.example/oauth/token"\n'
        f'api_base_url = "https://api.{name}.example/"\n'
        + (f'client_id = "gw-{name}"\n' if client_id else "")
        + f'client_secret = "{name}-secret"\n'
    )


@dataclass
class Replicas:
    gateways: list[Process]
    providers_file: Path
    env: dict[str, str]
    key: str
    database_url: URL

    def write(self, *providers: str) -> None:
        self.providers_file.write_text("\n".join(providers))


@pytest.fixture(scope="module")
def reload_database_url(server_url: URL) -> Iterator[URL]:
    with fresh_database(server_url, "gw_reload") as url:
        yield url


@pytest.fixture(scope="module")
async def replicas(
    reload_database_url: URL, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Replicas]:
    directory = tmp_path_factory.mktemp("reload")
    providers_file = directory / "providers.toml"
    providers_file.write_text(provider("acme"))
    env = {
        "GATEWAY_DATABASE_URL": sync_url(reload_database_url),
        "GATEWAY_ENCRYPTION_KEYS": generate_key_entry("reload"),
        "GATEWAY_PROVIDERS_FILE": str(providers_file),
        "GATEWAY_DEFAULT_PROVIDER": "acme",
        "GATEWAY_LOG_LEVEL": "INFO",
    }
    gateways = []
    for index in range(2):
        port = free_port()
        gateways.append(
            Process(
                f"gateway-{index}",
                ["serve"],
                hermetic_env({**env, "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}"}),
                directory,
                port=port,
                ready_path="/readyz",
            ).start()
        )
    db = Database(reload_database_url, pool_size=1)
    try:
        for gateway in gateways:
            await gateway.wait_ready()
            # Listening, the feed catches up (reloads): from then on the file is the test's.
            await until_logged(gateway, "change feed is listening")
        key = await new_client(db, ["connect"])
        yield Replicas(gateways, providers_file, env, key, reload_database_url)
    finally:
        for gateway in gateways:
            gateway.stop()
        await db.dispose()


async def connect_status(replicas: Replicas, gateway: Process, name: str) -> int:
    async with httpx.AsyncClient(timeout=5, trust_env=False) as http:
        response = await http.post(
            f"{gateway.url}/v1/connect-sessions",
            json={"user_id": "user-1", "provider": name},
            headers={"authorization": f"Bearer {replicas.key}"},
        )
    if response.status_code == 400:
        assert response.json()["error"]["code"] == "unknown_provider"
    return response.status_code


async def until_known(replicas: Replicas, gateway: Process, name: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while await connect_status(replicas, gateway, name) != 201:
        assert time.monotonic() < deadline, f"{gateway.name} never knew {name}"
        await asyncio.sleep(0.1)


async def until_logged(gateway: Process, text: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while text not in gateway.log_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{gateway.name} never logged {text!r}"
        await asyncio.sleep(0.1)


def reload_command(replicas: Replicas, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    for key, value in replicas.env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, ["providers", "reload"])
    return result.exit_code, result.output


async def test_sighup_reloads_the_providers_file_of_that_process(replicas: Replicas) -> None:
    first, second = replicas.gateways
    assert await connect_status(replicas, first, "beta") == 400
    replicas.write(provider("acme"), provider("beta"))

    first.send_signal(signal.SIGHUP)

    await until_known(replicas, first, "beta")
    assert first.alive and await connect_status(replicas, first, "acme") == 201
    assert await connect_status(replicas, second, "beta") == 400  # no signal, no reload


async def test_the_reload_command_reaches_every_running_gateway(
    replicas: Replicas, monkeypatch: pytest.MonkeyPatch
) -> None:
    replicas.write(provider("acme"), provider("beta"), provider("gamma"))

    code, output = await asyncio.to_thread(reload_command, replicas, monkeypatch)

    assert code == 0, output
    assert "acme, beta, gamma" in output
    for gateway in replicas.gateways:
        await until_known(replicas, gateway, "gamma")


async def test_a_bad_file_is_refused_and_the_previous_providers_kept(
    replicas: Replicas, monkeypatch: pytest.MonkeyPatch
) -> None:
    replicas.write(provider("acme"), provider("beta"), provider("gamma"))
    code, _ = await asyncio.to_thread(reload_command, replicas, monkeypatch)
    assert code == 0
    for gateway in replicas.gateways:
        await until_known(replicas, gateway, "gamma")
    replicas.write(provider("acme"), provider("delta", client_id=False))

    code, output = await asyncio.to_thread(reload_command, replicas, monkeypatch)
    assert code == 1
    assert "delta" in output and "client_id" in output
    first, second = replicas.gateways
    first.send_signal(signal.SIGHUP)
    connection = await asyncpg.connect(sync_url(replicas.database_url))
    try:
        await connection.execute("SELECT pg_notify($1, '')", CHANNEL)
    finally:
        await connection.close()

    await until_logged(first, "providers not reloaded on SIGHUP")
    await until_logged(second, "providers not reloaded on notification")
    for gateway in (first, second):
        assert "delta" in gateway.log_path.read_text(errors="replace")
        assert gateway.alive
        for name in ("beta", "gamma"):
            assert await connect_status(replicas, gateway, name) == 201
