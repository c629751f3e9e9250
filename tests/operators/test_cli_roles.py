"""The CLI, the superuser path: it makes admin keys of each role (``--scope admin`` still working,
as ``security``), re-keys a client, and its acts are audited as ``cli:<os user>``."""

from __future__ import annotations

import asyncio
import getpass
import json
import uuid
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.engine import URL

from gateway.cli import cli
from gateway.kit.db import Database, sync_url
from gateway.models import AuditEvent


@pytest.fixture
def env(database_url: URL, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", sync_url(database_url))


def run(*args: str) -> Any:
    """``gateway clients ARGS --json`` (in a thread of its own from a test: it runs its own loop)."""
    result = CliRunner().invoke(cli, ["clients", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def fresh_name() -> str:
    return f"ops-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize(
    ("scope", "reads_audit", "refreshes"),
    [
        ("viewer", True, False),
        ("support", True, True),
        ("operator", True, True),
        ("security", True, True),
        ("admin", True, True),
    ],
)
async def test_create_makes_an_admin_key_of_each_role(
    env: None, http: httpx.AsyncClient, scope: str, reads_audit: bool, refreshes: bool
) -> None:
    created = await asyncio.to_thread(run, "create", fresh_name(), "--scope", scope)
    headers = {"Authorization": f"Bearer {created['key']}"}
    audit = await http.get("/v1/audit-events", headers=headers)
    refresh = await http.post(f"/v1/connections/{uuid.uuid4()}/refresh", headers=headers)
    assert (audit.status_code == 200) is reads_audit
    assert (refresh.status_code == 404) is refreshes, refresh.text
    if not refreshes:
        assert refresh.json()["error"]["details"]["required"] == "support"


async def test_the_cli_re_keys_a_client_and_audits_as_the_os_user(
    env: None, http: httpx.AsyncClient, db: Database
) -> None:
    name = fresh_name()
    old = (await asyncio.to_thread(run, "create", name, "--scope", "viewer"))["key"]
    new = (await asyncio.to_thread(run, "rotate-key", name))["key"]
    assert (
        await http.get("/v1/audit-events", headers={"Authorization": f"Bearer {old}"})
    ).status_code == 401
    assert (
        await http.get("/v1/audit-events", headers={"Authorization": f"Bearer {new}"})
    ).status_code == 200
    async with db.transaction() as session:
        found = await session.scalars(
            select(AuditEvent).where(AuditEvent.details["client"].astext == name)
        )
        entries = {(e.action, e.actor) for e in found}
    assert entries == {
        ("client.created", f"cli:{getpass.getuser()}"),
        ("client.key_rotated", f"cli:{getpass.getuser()}"),
    }
