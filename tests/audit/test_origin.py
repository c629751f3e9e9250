"""Each audit entry names its actor and the request's source address and user agent, over HTTP,
for each caller; the CLI's name the operating-system user and no address."""

from __future__ import annotations

import asyncio
import getpass
import uuid
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import URL

from gateway.cli import cli
from gateway.kit.db import Database
from tests.fixtures.stack import Stack, cli_environment
from tests.hostile.owner_fixtures import Client, account, connect_as, make_client, rows


async def pause(
    http: httpx.AsyncClient, client: Client, connection_id: uuid.UUID, agent: str
) -> int:
    response = await http.patch(
        f"/v1/connections/{connection_id}",
        json={"enabled": False},
        headers={**client.auth, "User-Agent": agent},
    )
    return response.status_code


async def trail_of(
    http: httpx.AsyncClient, operator: Client, connection_id: uuid.UUID
) -> list[dict[str, Any]]:
    response = await http.get(
        "/v1/audit-events", params={"connection_id": str(connection_id)}, headers=operator.auth
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_entries_carry_the_actor_address_and_agent_of_each_caller(
    http: httpx.AsyncClient, db: Database
) -> None:
    confined = await make_client(db, ["connect", "proxy"], own_users_only=True)
    open_ = await make_client(db, ["connect", "proxy"])
    operator = await make_client(db, ["admin"])
    connections = {}
    for client in (confined, open_):
        user_id = f"u-{uuid.uuid4().hex[:10]}"
        assert (await connect_as(http, client, user_id, account())).status_code == 200
        [connection] = await rows(db, user_id)
        connections[client.name] = connection.id

    # The confined client cannot reach the other's connection: refused, and nothing recorded.
    assert await pause(http, confined, connections[open_.name], "intruder/1") == 404
    assert await pause(http, confined, connections[confined.name], "confined-agent/1.0") == 200
    assert await pause(http, open_, connections[open_.name], "open-agent/2.0") == 200

    for client, agent in ((confined, "confined-agent/1.0"), (open_, "open-agent/2.0")):
        [paused] = [
            item
            for item in await trail_of(http, operator, connections[client.name])
            if item["action"] == "connection.paused"
        ]
        assert paused["actor"] == f"client:{client.name}"
        assert paused["source_address"] == "127.0.0.1"
        assert paused["user_agent"] == agent
    others = await trail_of(http, operator, connections[open_.name])
    assert all(item["user_agent"] != "intruder/1" for item in others)
    assert all(item["actor"] != f"client:{confined.name}" for item in others)


async def test_the_cli_records_the_os_user_and_no_address(
    http: httpx.AsyncClient,
    stack: Stack,
    database_url: URL,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in cli_environment(stack.settings, database_url).items():
        monkeypatch.setenv(key, value)
    operator = await make_client(db, ["admin"])
    user_id = f"u-{uuid.uuid4().hex[:10]}"
    open_ = await make_client(db, ["connect", "proxy"])
    assert (await connect_as(http, open_, user_id, account())).status_code == 200
    [connection] = await rows(db, user_id)

    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["connections", "revoke", str(connection.id)]
    )

    assert result.exit_code == 0, result.output
    [revoked] = [
        item
        for item in await trail_of(http, operator, connection.id)
        if item["action"] == "connection.revoked"
    ]
    assert revoked["actor"] == f"cli:{getpass.getuser()}"
    assert revoked["source_address"] is None and revoked["user_agent"] is None
