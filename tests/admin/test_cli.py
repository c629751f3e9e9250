"""``gateway connections``: list, show, refresh, revoke, straight against the database."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence

import httpx
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update
from sqlalchemy.engine import URL

from gateway.cli import cli
from gateway.clients.store import ClientChanges, create_client, update_client
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import Connection, ConnectionStatus
from tests.admin.conftest import audit_actions, connected, reload, tokens_of
from tests.e2e.flows import connect, load_connection, proxy_get
from tests.fixtures.stack import Stack, cli_environment


@pytest.fixture
def env(stack: Stack, database_url: URL, monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        **cli_environment(stack.settings, database_url),
        "GATEWAY_CONTIO_ADMIN_API_KEY": "sandbox-admin-key",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)


async def gateway(args: Sequence[str], input: str | None = None) -> Result:
    """Run the command in a thread of its own: it runs its own event loop, as from a shell."""
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), input=input)


pytestmark = pytest.mark.usefixtures("env")


async def test_list_shows_the_users_connection(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)

    table = await gateway(["connections", "list", "--user", connection.user_id])
    as_json = await gateway(["connections", "list", "--user", connection.user_id, "--json"])

    assert table.exit_code == 0, table.output
    assert "STATUS" in table.output and str(connection.id) in table.output
    assert [item["id"] for item in json.loads(as_json.output)["items"]] == [str(connection.id)]


async def test_list_rejects_an_unknown_status_as_usage() -> None:
    result = await gateway(["connections", "list", "--status", "deleted"])

    assert result.exit_code == 2


async def test_show_tells_what_happened(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)
    await gateway(["connections", "revoke", str(connection.id)])

    result = await gateway(["connections", "show", str(connection.id)])

    assert result.exit_code == 0, result.output
    out = result.output
    assert "status:              revoked" in out and "tokens erased" in out
    assert "access token:" in out and "failures in a row:   0" in out
    assert "recent events (newest first):" in out
    assert "connection.revoked" in out and "by cli:" in out
    assert "connection.created" in out


async def test_show_json_has_the_connection_and_its_events(
    http: httpx.AsyncClient, service_key: str, db: Database, keys: KeyRing
) -> None:
    connection = await connected(http, service_key, db)
    access, refresh = tokens_of(keys, connection)

    result = await gateway(["connections", "show", str(connection.id), "--json"])

    data = json.loads(result.output)
    assert data["status"] == "active" and data["pending_upstream_revocation"] is None
    assert [event["action"] for event in data["audit_events"]] == ["connection.created"]
    assert access not in result.output and refresh not in result.output


async def test_show_of_an_unknown_or_malformed_id_exits_1() -> None:
    for connection_id in ("0b1f0000-0000-4000-8000-000000000000", "nope"):
        result = await gateway(["connections", "show", connection_id])
        assert result.exit_code == 1
        assert "connection_not_found" in result.output


async def test_refresh_refreshes(http: httpx.AsyncClient, service_key: str, db: Database) -> None:
    connection = await connected(http, service_key, db)

    result = await gateway(["connections", "refresh", str(connection.id)])

    assert result.exit_code == 0, result.output
    assert "refreshed connection" in result.output
    assert (await reload(db, connection.id)).token_version > connection.token_version


async def test_refresh_of_a_revoked_connection_exits_1(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)
    await gateway(["connections", "revoke", str(connection.id)])

    result = await gateway(["connections", "refresh", str(connection.id)])

    assert result.exit_code == 1
    assert "connection_revoked" in result.output


async def test_revoke_by_id_revokes_at_the_provider(
    http: httpx.AsyncClient, service_key: str, db: Database, keys: KeyRing, stack: Stack
) -> None:
    connection = await connected(http, service_key, db)
    access, refresh = tokens_of(keys, connection)

    result = await gateway(["connections", "revoke", str(connection.id)])

    assert result.exit_code == 0, result.output
    assert "upstream revocation: done" in result.output
    assert (await reload(db, connection.id)).status is ConnectionStatus.REVOKED
    assert stack.sandbox_store.find_live(refresh) is None
    assert stack.sandbox_store.find_live(access) is None
    actors = [actor for action, actor in await audit_actions(db, connection.id)]
    assert any(actor.startswith("cli:") for actor in actors)


async def test_revoke_by_user_asks_first_and_a_no_changes_nothing(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)

    result = await gateway(["connections", "revoke", "--user", connection.user_id], input="n\n")

    assert result.exit_code == 1
    assert "Revoke 1 connection(s) for user" in result.output
    assert (await reload(db, connection.id)).status is ConnectionStatus.ACTIVE


async def test_revoke_by_user_revokes_after_a_yes(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)

    result = await gateway(
        ["connections", "revoke", "--user", connection.user_id, "--provider", "contio"],
        input="y\n",
    )

    assert result.exit_code == 0, result.output
    assert (await reload(db, connection.id)).status is ConnectionStatus.REVOKED


async def test_revoke_by_user_with_yes_does_not_ask(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)

    result = await gateway(
        ["connections", "revoke", "--user", connection.user_id, "--yes", "--json"]
    )

    assert result.exit_code == 0, result.output
    [revoked] = json.loads(result.output)
    assert (revoked["id"], revoked["upstream_revocation"]) == (str(connection.id), "done")


async def test_revoke_of_a_user_without_connections_exits_1() -> None:
    result = await gateway(["connections", "revoke", "--user", "nobody-at-all", "--yes"])

    assert result.exit_code == 1
    assert "no connection to revoke" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["connections", "revoke"],
        ["connections", "revoke", "0b1f0000-0000-4000-8000-000000000000", "--user", "alice"],
        ["connections", "revoke", "0b1f0000-0000-4000-8000-000000000000", "--provider", "contio"],
    ],
)
async def test_revoke_usage_errors_exit_2(args: list[str]) -> None:
    result = await gateway(args)

    assert result.exit_code == 2


async def test_every_connections_command_has_help() -> None:
    for command in ("list", "show", "refresh", "revoke"):
        assert (await gateway(["connections", command, "--help"])).exit_code == 0


async def test_revoke_by_status_takes_every_connection_in_it_and_no_other(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    stuck, healthy = await connected(http, service_key, db), await connected(http, service_key, db)
    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == stuck.id)
            .values(status=ConnectionStatus.NEEDS_REAUTH)
        )

    asked = await gateway(["connections", "revoke", "--status", "needs_reauth"], input="n\n")
    assert asked.exit_code == 1 and "Revoke" in asked.output and "(needs_reauth)" in asked.output
    assert (await reload(db, stuck.id)).status is ConnectionStatus.NEEDS_REAUTH

    result = await gateway(["connections", "revoke", "--status", "needs_reauth", "--yes", "--json"])

    assert result.exit_code == 0, result.output
    revoked = {item["id"] for item in json.loads(result.stdout)}  # the progress bar is on stderr
    assert str(stuck.id) in revoked and str(healthy.id) not in revoked
    assert (await reload(db, stuck.id)).status is ConnectionStatus.REVOKED
    assert (await reload(db, healthy.id)).status is ConnectionStatus.ACTIVE


async def test_revoke_takes_exactly_one_way_of_choosing() -> None:
    both = await gateway(["connections", "revoke", "--user", "u", "--status", "needs_reauth"])
    assert both.exit_code == 2
    revoked_status = await gateway(["connections", "revoke", "--status", "revoked"])
    assert revoked_status.exit_code == 2


async def test_revoke_shows_the_connections_sharing_the_account_and_asks_first(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    name = f"svc-{uuid.uuid4().hex[:10]}"
    async with db.transaction() as session:
        _client, issued = await create_client(session, name, ["connect", "proxy"], ["GET /**"])
        await update_client(session, name, ClientChanges(own_users_only=True))
    email = f"shared-{uuid.uuid4().hex[:8]}@example.com"
    ours, theirs = f"user-{uuid.uuid4().hex[:8]}", f"user-{uuid.uuid4().hex[:8]}"
    assert (await connect(http, service_key, ours, login_hint=email)).status_code == 200
    assert (await connect(http, issued.key, theirs, login_hint=email)).status_code == 200
    target, other = await load_connection(db, ours), await load_connection(db, theirs)

    refused = await gateway(["connections", "revoke", str(target.id)], input="n\n")

    assert refused.exit_code == 1
    assert f"{other.id}  user {theirs}  active: stays connected" in refused.output
    assert "this grant's tokens only" in refused.output
    assert (await reload(db, target.id)).status is ConnectionStatus.ACTIVE

    done = await gateway(["connections", "revoke", str(target.id), "--yes", "--json"])

    assert done.exit_code == 0, done.output
    [revoked] = json.loads(done.stdout)
    assert revoked["revocation"]["upstream"] == "grant_tokens"
    assert [c["id"] for c in revoked["revocation"]["sharing_connections"]] == [str(other.id)]
    assert (await reload(db, other.id)).status is ConnectionStatus.ACTIVE
    assert (await proxy_get(http, issued.key, theirs, "/meetings")).status_code == 200
