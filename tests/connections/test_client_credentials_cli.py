"""``gateway connections create --client-credentials``: an operator's, on the database, audited with
the OS user; the token obtained and stored, never printed."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.engine import URL

from gateway.cli import cli
from gateway.kit.db import Database
from gateway.models import AuditEvent
from gateway.tokens import grant
from tests.connections.cc_fixtures import PROVIDER, cc_stack, exchanges, keys_of, row
from tests.fixtures.stack import Stack, cli_environment
from tests.hostile.owner_fixtures import Clients, clients

__all__ = ["cc_stack", "clients"]  # fixtures


@pytest.fixture
def env(cc_stack: Stack, database_url: URL, monkeypatch: pytest.MonkeyPatch) -> None:
    values = cli_environment(cc_stack.settings, database_url)
    for key, value in values.items():
        monkeypatch.setenv(key, value)


pytestmark = pytest.mark.usefixtures("env")


async def gateway(args: Sequence[str]) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


async def test_an_operator_creates_one_owned_by_a_client(
    db: Database, cc_stack: Stack, clients: Clients
) -> None:
    user_id = f"app:{uuid.uuid4().hex[:10]}"
    before = exchanges(cc_stack)

    result = await gateway(
        [
            "connections",
            "create",
            "--client-credentials",
            "--user",
            user_id,
            "--provider",
            PROVIDER,
            "--scope",
            "reports:read",
            "--audience",
            "https://api.reports.example",
            "--resource",
            "https://api.reports.example/v1",
            "--owner",
            clients.open_.name,
            "--json",
        ]
    )

    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert (shown["auth_mode"], shown["owner"], shown["is_default"]) == (
        "client_credentials",
        clients.open_.name,
        False,
    )
    assert shown["requested"]["resources"] == ["https://api.reports.example/v1"]
    assert exchanges(cc_stack) == before + 1
    stored = await row(db, shown["id"])
    assert grant.access_token(keys_of(cc_stack), stored) not in result.output
    async with db.transaction() as session:
        actors = await session.scalars(
            select(AuditEvent.actor).where(AuditEvent.connection_id == stored.id)
        )
        assert [actor.startswith("cli:") for actor in actors] == [True]


async def test_the_kind_is_required_and_a_provider_without_the_grant_is_refused() -> None:
    no_kind = await gateway(["connections", "create", "--user", "app:x", "--provider", PROVIDER])
    refused = await gateway(
        ["connections", "create", "--client-credentials", "--user", "app:x", "--provider", "contio"]
    )

    assert no_kind.exit_code == 2 and "--client-credentials" in no_kind.output
    assert refused.exit_code == 1 and "grant_not_supported" in refused.output
