"""``gateway connections update`` and ``token``: an operator's, on the database, audited with the
OS user, through the same service as the admin API."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from click.testing import CliRunner, Result

from gateway.cli import cli
from gateway.kit.db import Database
from tests.admin.test_cli import env
from tests.connections.managed import audit_of, connected, reloaded
from tests.hostile.owner_fixtures import Clients, clients

__all__ = ["clients", "env"]  # fixtures

pytestmark = pytest.mark.usefixtures("env")


async def run(*args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, ["connections", *args])


async def test_update_pauses_labels_and_names_a_connection(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connected(http, db, clients.open_)
    tag = connection.user_id

    result = await run(
        "update",
        str(connection.id),
        "--disable",
        "--label",
        "team=sales",
        "--metadata",
        '{"plan": "pro"}',
        "--external-id",
        f"crm-{tag}",
        "--if-match",
        "1",
        "--json",
    )

    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert (body["enabled"], body["labels"], body["metadata"]) == (
        False,
        {"team": "sales"},
        {"plan": "pro"},
    )
    assert (body["external_ids"], body["etag"]) == ([f"crm-{tag}"], '"2"')
    [updated] = [e for e in await audit_of(db, connection) if e.action == "connection.updated"]
    assert updated.actor.startswith("cli:")
    assert updated.details["fields"] == ["enabled", "external_ids", "labels", "metadata"]

    removed = await run(
        "update", str(connection.id), "--remove-label", "team", "--clear-external-ids"
    )
    assert removed.exit_code == 0, removed.output
    assert "external_ids, labels" in removed.output
    after = await reloaded(db, connection)
    assert (after.labels, after.revision) == ({}, 3)


async def test_update_refuses_a_stale_etag_and_bad_options(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connected(http, db, clients.open_)

    stale = await run("update", str(connection.id), "--disable", "--if-match", '"5"')
    bad_label = await run("update", str(connection.id), "--label", "no-equals")
    bad_key = await run("update", str(connection.id), "--label", "-x=y")
    both = await run("update", str(connection.id), "--external-id", "a", "--clear-external-ids")

    assert stale.exit_code == 1 and "precondition_failed" in stale.output
    assert bad_label.exit_code == 2 and bad_key.exit_code == 2 and both.exit_code == 2
    assert (await reloaded(db, connection)).revision == 1


async def test_token_obtains_a_fresh_token_and_never_prints_it(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connected(http, db, clients.open_)

    result = await run("token", str(connection.id), "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["id"] == str(connection.id)
    assert (await reloaded(db, connection)).token_version == connection.token_version + 1
