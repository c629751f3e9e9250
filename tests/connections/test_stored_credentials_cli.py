"""``gateway connections create``: an operator stores a credential from the command line, the
secret read from standard input (never an argument), verified with the provider first."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import URL

from gateway.cli import cli
from gateway.kit.db import Database
from tests.connections.stored_fixtures import API_KEY, KeyedStack, gw, keyed_stack, user
from tests.fixtures.stack import cli_environment
from tests.hostile.owner_fixtures import Clients, clients, rows

__all__ = ["clients", "gw", "keyed_stack"]  # fixtures


@pytest.fixture
def env(keyed_stack: KeyedStack, database_url: URL, monkeypatch: pytest.MonkeyPatch) -> None:
    values = cli_environment(keyed_stack.settings, database_url)
    values["GATEWAY_PROVIDERS_FILE"] = str(keyed_stack.settings.providers_file)
    values["GATEWAY_PROVIDERS_ALLOW_LOOPBACK_HTTP"] = "true"
    for key, value in values.items():
        monkeypatch.setenv(key, value)


pytestmark = pytest.mark.usefixtures("env")


async def run(*args: str, input: str | None = None) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, ["connections", *args], input=input)


async def test_create_reads_the_key_from_stdin_and_the_proxy_uses_it(
    gw: httpx.AsyncClient, clients: Clients, db: Database
) -> None:
    user_id = user()
    args = ("create", "--user", user_id, "--provider", "keyed", "--api-key-stdin")
    result = await run(*args, "--owner", clients.open_.name, "--json", input=API_KEY + "\n")
    assert result.exit_code == 0, result.output
    assert API_KEY not in result.output
    body = json.loads(result.output)
    assert (body["auth_mode"], body["owner"]) == ("api_key", clients.open_.name)
    [row] = await rows(db, user_id)
    assert str(row.id) == body["id"]
    proxied = await gw.get(f"/proxy/connections/{row.id}/me", headers=clients.open_.auth)
    assert proxied.status_code == 200, proxied.text


async def test_create_refuses_a_key_the_provider_rejects(db: Database) -> None:
    user_id = user()
    args = ("create", "--user", user_id, "--provider", "keyed", "--api-key-stdin")
    result = await run(*args, input="wrong-key\n")
    assert result.exit_code == 1
    assert "credential_rejected" in result.output
    assert "wrong-key" not in result.output
    assert await rows(db, user_id) == []


async def test_create_takes_no_secret_on_the_command_line() -> None:
    result = await run("create", "--user", user(), "--provider", "keyed", "--api-key", API_KEY)
    assert result.exit_code == 2
