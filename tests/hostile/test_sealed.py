"""Ciphertext that does not open fails closed and says so, from the outside.

Two ways a stored token stops opening: its ciphertext was copied from another connection's row (the
seal is bound to table, column and row), or it was sealed under a key the running key ring lacks. Both
must answer 409 ``credentials_unreadable`` for that user on the proxy and on every admin path (never a
500, never another user's token), while every other user keeps working, for an unconfined and a
confined client alike.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, update
from sqlalchemy.engine import URL

from gateway.cli import cli
from gateway.clients.store import ClientChanges, create_client, update_client
from gateway.kit.crypto import Binding, KeyRing, generate_key_entry
from gateway.kit.db import Database, sync_url
from gateway.models import Connection, ConnectionStatus, OutboxEvent
from gateway.tokens import grant
from tests.console.conftest import new_operator, post_form, sign_in
from tests.e2e.flows import connect_new_user, load_connection, proxy_get
from tests.fixtures.stack import Stack

GONE = generate_key_entry("gone")
UNREADABLE = "credentials_unreadable"


@dataclass(frozen=True)
class Client:
    key: str


async def service_client(db: Database, **changes: Any) -> Client:
    name = f"svc-{uuid.uuid4().hex[:10]}"
    async with db.transaction() as session:
        _created, issued = await create_client(session, name, ["connect", "proxy"], ["GET /**"])
        if changes:
            await update_client(session, name, ClientChanges(**changes))
    return Client(issued.key)


@pytest.fixture
async def clients(db: Database) -> tuple[Client, Client]:
    """An unconfined client and one confined to its own users."""
    return await service_client(db), await service_client(db, own_users_only=True)


@pytest.fixture
async def admin(stack: Stack, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    operator = await new_operator(db)
    headers = {"Authorization": f"Bearer {operator.key}"}
    async with httpx.AsyncClient(base_url=stack.gateway.url, headers=headers, timeout=10) as client:
        yield client


def stack_ring(stack: Stack) -> KeyRing:
    assert stack.settings.encryption_keys is not None
    return KeyRing.parse(stack.settings.encryption_keys.get_secret_value())


async def copy_tokens(db: Database, source: Connection, target: Connection) -> None:
    """What someone with write access to the database might do: move a grant to another user."""
    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == target.id)
            .values(access_token=source.access_token, refresh_token=source.refresh_token)
        )


async def seal_under_gone(db: Database, stack: Stack, connection: Connection) -> None:
    """The connection's own tokens, sealed for its own row, but under a key the gateway lacks."""
    gone = KeyRing.parse(GONE)
    ring = stack_ring(stack)
    values = {}
    for column in ("access_token", "refresh_token"):
        sealed = getattr(connection, column)
        binding = Binding("connections", column, str(connection.id))
        values[column] = gone.seal(ring.open(sealed, binding), binding)
    async with db.transaction() as session:
        await session.execute(
            update(Connection).where(Connection.id == connection.id).values(**values)
        )


async def connected(http: httpx.AsyncClient, client: Client, db: Database) -> Connection:
    return await load_connection(db, await connect_new_user(http, client.key))


def assert_unreadable(response: httpx.Response, connection: Connection) -> dict[str, Any]:
    assert response.status_code == 409, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == UNREADABLE
    assert set(error["details"]) <= {"connection_id", "key_id"}
    assert error["details"]["connection_id"] == str(connection.id)
    return error


async def unreadable_events(db: Database, connection: Connection) -> list[str]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(OutboxEvent.type).where(
                OutboxEvent.data["connection_id"].astext == str(connection.id)
            )
        )
        return [t for t in rows if t == "connection.credentials_unreadable"]


async def test_a_grant_copied_onto_another_users_row_is_refused_for_that_user_only(
    http: httpx.AsyncClient, db: Database, stack: Stack, clients: tuple[Client, Client]
) -> None:
    shared, confined = clients
    donor, victim, bystander = [await connected(http, shared, db) for _ in range(3)]
    own_donor, own_victim = [await connected(http, confined, db) for _ in range(2)]
    await copy_tokens(db, donor, victim)
    await copy_tokens(db, own_donor, own_victim)

    for client, user in ((shared, victim), (confined, own_victim)):
        for _ in range(2):  # found on the first call, refused by its mark on the next
            refused = await proxy_get(http, client.key, user.user_id, "/meetings")
            error = assert_unreadable(refused, user)
            assert error["details"]["key_id"] == "test1"
            assert "cto_" not in refused.text
    # Another client cannot learn anything more about the confined client's user.
    assert (await proxy_get(http, shared.key, own_victim.user_id, "/meetings")).status_code in (
        403,
        404,
        409,
    )
    for client, user in ((shared, donor), (shared, bystander), (confined, own_donor)):
        assert (await proxy_get(http, client.key, user.user_id, "/meetings")).status_code == 200
    for user in (victim, own_victim):
        marked = await load_connection(db, user.user_id)
        assert marked.status is ConnectionStatus.CREDENTIALS_UNREADABLE
        assert marked.next_refresh_at is None
        assert await unreadable_events(db, user) == ["connection.credentials_unreadable"]
    # The donors' grants were never used for the victims: still the donors' own, still live.
    assert (await load_connection(db, donor.user_id)).token_version == donor.token_version


async def test_the_admin_api_answers_show_refresh_and_revoke_without_a_500(
    http: httpx.AsyncClient,
    db: Database,
    stack: Stack,
    clients: tuple[Client, Client],
    admin: httpx.AsyncClient,
) -> None:
    shared, _ = clients
    donor, victim = [await connected(http, shared, db) for _ in range(2)]
    await copy_tokens(db, donor, victim)

    shown = await admin.get(f"/v1/connections/{victim.id}")
    assert shown.status_code == 200 and shown.json()["status"] == "active"
    assert_unreadable(await admin.post(f"/v1/connections/{victim.id}/refresh"), victim)
    shown = (await admin.get(f"/v1/connections/{victim.id}")).json()
    assert shown["status"] == UNREADABLE
    assert shown["last_refresh_error"]["code"] == UNREADABLE
    listed = await admin.get("/v1/connections", params={"status": UNREADABLE, "limit": 200})
    assert str(victim.id) in {item["id"] for item in listed.json()["items"]}
    assert_unreadable(await admin.post(f"/v1/connections/{victim.id}/refresh"), victim)

    revoked = await admin.delete(f"/v1/connections/{victim.id}")
    assert revoked.status_code == 200, revoked.text
    body = revoked.json()
    assert body["status"] == "revoked"
    assert body["upstream_revocation"] == "not_possible"
    assert body["upstream_revocation_error"]["code"] == UNREADABLE
    erased = await load_connection(db, victim.user_id)
    assert (erased.access_token, erased.refresh_token) == (None, None)
    # Revoking the victim ended nothing of the donor's: its grant is live at the provider.
    access, refresh = (
        grant.access_token(stack_ring(stack), donor),
        grant.refresh_token(stack_ring(stack), donor),
    )
    assert stack.sandbox_store.find_live(access) is not None
    assert stack.sandbox_store.find_live(refresh) is not None
    assert (await proxy_get(http, shared.key, donor.user_id, "/meetings")).status_code == 200
    again = await admin.delete(f"/v1/connections/{victim.id}")
    assert again.status_code == 200 and again.json()["status"] == "revoked"


async def test_a_token_sealed_under_a_key_the_ring_lacks_is_refused_and_counted(
    http: httpx.AsyncClient,
    db: Database,
    stack: Stack,
    clients: tuple[Client, Client],
    database_url: URL,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shared, confined = clients
    monkeypatch.setenv("GATEWAY_DATABASE_URL", sync_url(database_url))
    assert stack.settings.encryption_keys is not None
    monkeypatch.setenv("GATEWAY_ENCRYPTION_KEYS", stack.settings.encryption_keys.get_secret_value())
    # Refresh and revoke need a provider configured (they refuse to start without one).
    for name in ("contio_auth_url", "contio_api_url", "contio_client_id"):
        monkeypatch.setenv(f"GATEWAY_{name.upper()}", str(getattr(stack.settings, name)))
    monkeypatch.setenv("GATEWAY_CONTIO_CLIENT_SECRET", "sandbox-secret")
    before = await keys_status()

    lost, own_lost = await connected(http, shared, db), await connected(http, confined, db)
    fine = await connected(http, confined, db)
    for connection in (lost, own_lost):
        await seal_under_gone(db, stack, connection)

    after = await keys_status()
    assert after["unreadable_connections"] == before["unreadable_connections"] + 2
    assert "gone" in after["keys_not_in_ring"]
    assert after["values_by_key"]["gone"] >= 4

    for client, user in ((shared, lost), (confined, own_lost)):
        error = assert_unreadable(await proxy_get(http, client.key, user.user_id, "/x"), user)
        assert error["details"]["key_id"] == "gone"
    assert (await proxy_get(http, confined.key, fine.user_id, "/meetings")).status_code == 200

    shown = await cli_json("connections", "show", str(lost.id), "--json")
    assert shown["status"] == UNREADABLE
    refreshed = await gateway_cli("connections", "refresh", str(own_lost.id))
    assert refreshed.exit_code == 1 and UNREADABLE in refreshed.output
    revoked = await cli_json("connections", "revoke", str(lost.id), "--json")
    assert revoked[0]["upstream_revocation"] == "not_possible"
    assert revoked[0]["upstream_revocation_error"]["code"] == UNREADABLE
    said = await gateway_cli("connections", "revoke", str(own_lost.id))
    assert said.exit_code == 0 and "upstream revocation: not_possible" in said.output
    assert UNREADABLE in said.output
    final = await keys_status()
    assert final["unreadable_connections"] == before["unreadable_connections"]


async def test_the_console_counts_and_lists_them(
    http: httpx.AsyncClient, db: Database, stack: Stack, clients: tuple[Client, Client]
) -> None:
    shared, _ = clients
    donor, victim = [await connected(http, shared, db) for _ in range(2)]
    await copy_tokens(db, donor, victim)
    assert (await proxy_get(http, shared.key, victim.user_id, "/meetings")).status_code == 409

    operator = await new_operator(db)
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=10) as browser:
        assert (await sign_in(browser, operator.key)).status_code == 303
        listing = await browser.get("/console/connections")
        assert listing.status_code == 200 and 'id="unreadable"' in listing.text
        filtered = await browser.get("/console/connections", params={"status": UNREADABLE})
        assert victim.user_id in filtered.text and donor.user_id not in filtered.text
        page = f"/console/connections/{victim.id}"
        shown = await browser.get(page)
        assert shown.status_code == 200 and UNREADABLE in shown.text
        refreshed = await post_form(browser, page, f"{page}/refresh")
        assert refreshed.status_code == 200 and UNREADABLE in refreshed.text
        answer = await post_form(browser, f"{page}/revoke", f"{page}/revoke")
        assert answer.status_code == 303
        revoked = await browser.get(answer.headers["location"])
        assert revoked.status_code == 200
        assert 'data-upstream="not_possible"' in revoked.text


async def gateway_cli(*args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


async def cli_json(*args: str) -> Any:
    result = await gateway_cli(*args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


async def keys_status() -> dict[str, Any]:
    found: dict[str, Any] = await cli_json("keys", "status", "--json")
    return found
