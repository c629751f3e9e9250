"""The operator's command line over each kind of connection: ``gateway connections verify``,
``list --auth-mode`` and what ``show`` tells of how a connection authenticates; on the stack's
database, audited with the OS user, never printing a secret."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import URL

from gateway.cli import cli
from gateway.cli.connections import actor
from gateway.kit.db import Database
from tests.connections.kinds_fixtures import (
    REPORTS,
    audited,
    create_app_connection,
    fresh_key,
    gw,
    kinds_stack,
    revoke_key,
    sandbox,
    store_key,
)
from tests.fixtures.stack import Stack, cli_environment
from tests.hostile.owner_fixtures import Clients, b_user, clients

__all__ = ["clients", "gw", "kinds_stack", "sandbox"]  # fixtures


@pytest.fixture
def env(kinds_stack: Stack, database_url: URL, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in cli_environment(kinds_stack.settings, database_url).items():
        monkeypatch.setenv(key, value)


pytestmark = pytest.mark.usefixtures("env")


async def run(*args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, ["connections", *args])


async def test_verify_checks_a_stored_key_and_tells_the_providers_refusal(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, clients: Clients, db: Database
) -> None:
    key = await fresh_key(sandbox)
    connection_id = await store_key(gw, clients, b_user(), key)

    taken = await run("verify", connection_id)
    as_json = await run("verify", connection_id, "--json")
    await revoke_key(sandbox, key)
    refused = await run("verify", connection_id)

    assert taken.exit_code == 0, taken.output
    assert f"verified connection {connection_id} (api_key)" in taken.output
    assert json.loads(as_json.output) == {
        "verified": True,
        "connection_id": connection_id,
        "auth_mode": "api_key",
        "method": "verification_request",
    }
    assert refused.exit_code == 1, refused.output
    assert "rejected (credential_rejected)" in refused.output
    assert "invalid_credentials" in refused.output  # the provider's reason
    for result in (taken, as_json, refused):
        assert key not in result.output
    entries = await audited(db, connection_id, "connection.verified")
    assert [(e.actor, e.details["outcome"]) for e in entries] == [
        (actor(), "verified"),
        (actor(), "verified"),
        (actor(), "credential_rejected"),
    ]


async def test_verify_of_an_unknown_or_malformed_id_exits_1() -> None:
    for wanted in ("00000000-0000-4000-8000-000000000000", "not-an-id"):
        result = await run("verify", wanted)
        assert result.exit_code == 1 and "connection_not_found" in result.output


async def test_list_filters_by_auth_mode_and_show_tells_what_an_exchange_asks(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, clients: Clients
) -> None:
    user_id = b_user()
    stored = await store_key(gw, clients, user_id, await fresh_key(sandbox))
    app = await create_app_connection(gw, clients.open_, user_id, REPORTS)

    for mode, expected in (("api_key", stored), ("client_credentials", app), ("basic", None)):
        listed = await run("list", "--user", user_id, "--auth-mode", mode, "--json")
        assert listed.exit_code == 0, listed.output
        items = json.loads(listed.output)["items"]
        assert [item["id"] for item in items] == ([expected] if expected else []), mode
    wrong = await run("list", "--auth-mode", "password")
    assert wrong.exit_code == 2

    shown = await run("show", app)
    assert shown.exit_code == 0, shown.output
    assert "auth mode:           client_credentials" in shown.output
    assert "requested scopes:    reports:read" in shown.output
