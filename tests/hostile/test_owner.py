"""Ownership attacked from the outside: one service against another's users, over real HTTP.

A is confined to its own users, B is unconfined with a user pattern, C is unconfined for anyone;
the gateway and the Contio sandbox are real servers on loopback.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.engine import URL

from gateway.cli import cli
from gateway.kit.db import Database, sync_url
from gateway.models import AuditEvent
from tests.admin.test_import_api import body_for, broker_grant
from tests.e2e.flows import open_session
from tests.fixtures.stack import Stack
from tests.hostile.owner_fixtures import (
    Clients,
    account,
    b_user,
    clients,
    connect_as,
    error_code,
    finish,
    proxied_workspaces,
    rows,
    sandbox,
    subject_of,
    workspace_of,
)
from tests.provisioning.flows import executions, latest_code, start, verify

__all__ = ["clients", "sandbox"]  # fixtures

INITIATE = "POST /auth/initiate"


async def connected(http: httpx.AsyncClient, stack: Stack, client: object, user_id: str) -> str:
    """Connect ``user_id`` for ``client`` as a fresh account; returns that account's email."""
    email = account()
    response = await connect_as(http, client, user_id, email)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    return email


# Connect sessions


async def test_another_client_cannot_rebind_a_users_connection_with_replace_identity(
    http: httpx.AsyncClient, stack: Stack, db: Database, clients: Clients
) -> None:
    user_id = b_user()
    email = await connected(http, stack, clients.patterned, user_id)
    [before] = await rows(db, user_id)

    refused = await http.post(
        "/v1/connect-sessions",
        json={"user_id": user_id, "login_hint": account(), "replace_identity": True},
        headers=clients.open_.auth,
    )

    assert refused.status_code == 409
    assert error_code(refused) == "connection_owned_by_other_client"
    assert refused.json()["error"]["details"]["owner"] == clients.patterned.name
    [after] = await rows(db, user_id)
    assert (after.id, after.subject, after.token_version) == (
        before.id,
        subject_of(stack, email),
        before.token_version,
    )
    assert await proxied_workspaces(http, clients.patterned, user_id) == {
        workspace_of(stack, email)
    }


async def test_a_session_opened_before_another_client_connected_is_refused_at_the_callback(
    http: httpx.AsyncClient, stack: Stack, db: Database, clients: Clients
) -> None:
    user_id = b_user()
    attacker = account()
    early = await open_session(
        http, clients.open_.key, user_id=user_id, login_hint=attacker, replace_identity=True
    )
    email = await connected(http, stack, clients.patterned, user_id)

    refused = await finish(early, accept_json=True)

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "connection_owned_by_other_client"
    [row] = await rows(db, user_id)
    assert row.owner_client_id == clients.patterned.id
    assert row.subject == subject_of(stack, email) != subject_of(stack, attacker)
    assert await proxied_workspaces(http, clients.patterned, user_id) == {
        workspace_of(stack, email)
    }


async def test_the_owner_may_reconnect_and_an_unconfined_pattern_is_held_at_connect(
    http: httpx.AsyncClient, stack: Stack, db: Database, clients: Clients
) -> None:
    user_id = b_user()
    await connected(http, stack, clients.patterned, user_id)
    again = await connect_as(http, clients.patterned, user_id, account(), replace_identity=True)
    assert again.status_code == 200, again.text

    outside = await http.post(
        "/v1/connect-sessions",
        json={"user_id": f"x-{uuid.uuid4().hex[:8]}"},
        headers=clients.patterned.auth,
    )
    assert outside.status_code == 403
    assert error_code(outside) == "user_not_allowed"
    [row] = await rows(db, user_id)
    assert row.token_version == 2 and row.owner_client_id == clients.patterned.id


# Squatting and confinement


async def test_a_squatter_cannot_lock_a_confined_client_out_of_its_own_user(
    http: httpx.AsyncClient, stack: Stack, db: Database, clients: Clients
) -> None:
    user_id = b_user()
    squatter = await connected(http, stack, clients.patterned, user_id)
    rightful = await connected(http, stack, clients.confined, user_id)

    assert await proxied_workspaces(http, clients.confined, user_id) == {
        workspace_of(stack, rightful)
    }
    assert await proxied_workspaces(http, clients.patterned, user_id) == {
        workspace_of(stack, squatter)
    }
    shared, own = await rows(db, user_id)
    assert (shared.owner_client_id, shared.confined_to_client_id) == (clients.patterned.id, None)
    assert (own.owner_client_id, own.confined_to_client_id) == (
        clients.confined.id,
        clients.confined.id,
    )
    assert own.subject == subject_of(stack, rightful)


async def test_a_confined_clients_connection_is_invisible_and_unusable_to_everyone_else(
    http: httpx.AsyncClient, stack: Stack, db: Database, clients: Clients
) -> None:
    user_id = b_user()
    email = await connected(http, stack, clients.confined, user_id)

    for other in (clients.patterned, clients.open_):
        missing = await http.get(f"/proxy/users/{user_id}/meetings", headers=other.auth)
        assert missing.status_code == 404
        assert error_code(missing) == "connection_not_found"
    # C connecting the same user id makes a shared connection of its own; A's is untouched.
    other_email = await connected(http, stack, clients.open_, user_id)
    assert await proxied_workspaces(http, clients.confined, user_id) == {workspace_of(stack, email)}
    assert await proxied_workspaces(http, clients.open_, user_id) == {
        workspace_of(stack, other_email)
    }
    own = next(r for r in await rows(db, user_id) if r.confined_to_client_id is not None)
    assert own.subject == subject_of(stack, email) and own.token_version == 1


# Provisioning


async def test_another_client_cannot_provision_over_a_users_connection(
    http: httpx.AsyncClient,
    stack: Stack,
    db: Database,
    clients: Clients,
    sandbox: httpx.AsyncClient,
) -> None:
    user_id = b_user()
    email = await connected(http, stack, clients.patterned, user_id)
    initiated = await executions(sandbox, INITIATE)

    refused = await start(
        http, clients.open_.key, user_id=user_id, email=account(), replace_identity=True
    )

    assert refused.status_code == 409
    assert error_code(refused) == "connection_owned_by_other_client"
    assert refused.json()["error"]["details"]["owner"] == clients.patterned.name
    assert await executions(sandbox, INITIATE) == initiated, "no code mailed for a refusal"
    [row] = await rows(db, user_id)
    assert row.subject == subject_of(stack, email) and row.token_version == 1


async def test_a_provisioning_is_refused_at_verify_when_another_client_connected_meanwhile(
    http: httpx.AsyncClient,
    stack: Stack,
    db: Database,
    clients: Clients,
    sandbox: httpx.AsyncClient,
) -> None:
    user_id = b_user()
    attacker = account()
    begun = await start(
        http, clients.open_.key, user_id=user_id, email=attacker, replace_identity=True
    )
    assert begun.status_code == 201, begun.text
    email = await connected(http, stack, clients.patterned, user_id)

    refused = await verify(
        http, clients.open_.key, begun.json()["id"], await latest_code(sandbox, attacker)
    )

    assert refused.status_code == 409
    assert error_code(refused) == "connection_owned_by_other_client"
    [row] = await rows(db, user_id)
    assert row.owner_client_id == clients.patterned.id
    assert row.subject == subject_of(stack, email)


async def test_provisioning_holds_the_user_pattern_before_the_provider_is_asked(
    http: httpx.AsyncClient, clients: Clients, sandbox: httpx.AsyncClient
) -> None:
    initiated = await executions(sandbox, INITIATE)
    refused = await start(
        http, clients.patterned.key, user_id=f"x-{uuid.uuid4().hex[:8]}", email=account()
    )
    assert refused.status_code == 403
    assert error_code(refused) == "user_not_allowed"
    assert await executions(sandbox, INITIATE) == initiated


async def test_a_provisioning_is_seen_and_verified_only_by_the_client_that_started_it(
    http: httpx.AsyncClient, clients: Clients, sandbox: httpx.AsyncClient
) -> None:
    email = account()
    begun = await start(http, clients.confined.key, user_id=b_user(), email=email)
    assert begun.status_code == 201, begun.text
    provisioning_id = begun.json()["id"]
    code = await latest_code(sandbox, email)

    for other in (clients.patterned, clients.open_):
        seen = await http.get(f"/v1/provisioning/{provisioning_id}", headers=other.auth)
        assert seen.status_code == 404 and error_code(seen) == "provisioning_not_found"
        verified = await verify(http, other.key, provisioning_id, code)
        assert verified.status_code == 404 and error_code(verified) == "provisioning_not_found"
    mine = await http.get(f"/v1/provisioning/{provisioning_id}", headers=clients.confined.auth)
    assert mine.status_code == 200 and mine.json()["status"] == "code_sent"


# Operator-owned connections and transfer


async def test_a_client_cannot_reconnect_an_operator_owned_connection(
    http: httpx.AsyncClient, stack: Stack, db: Database, clients: Clients
) -> None:
    user_id = b_user()
    await connected(http, stack, clients.patterned, user_id)
    [row] = await rows(db, user_id)
    moved = await http.post(
        f"/v1/connections/{row.id}/transfer", json={"to": "operator"}, headers=clients.operator.auth
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["owner"], moved.json()["confined"]) == ("operator", False)

    refused = await http.post(
        "/v1/connect-sessions", json={"user_id": user_id}, headers=clients.patterned.auth
    )

    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["owner"] == "operator"


async def test_transfer_through_the_api_hands_over_the_connection_and_is_audited(
    http: httpx.AsyncClient, stack: Stack, db: Database, clients: Clients
) -> None:
    user_id = b_user()
    await connected(http, stack, clients.patterned, user_id)
    [row] = await rows(db, user_id)

    moved = await http.post(
        f"/v1/connections/{row.id}/transfer",
        json={"to": clients.open_.name},
        headers=clients.operator.auth,
    )

    assert moved.status_code == 200, moved.text
    assert moved.json()["owner"] == clients.open_.name
    again = await connect_as(http, clients.open_, user_id, account(), replace_identity=True)
    assert again.status_code == 200, again.text
    refused = await http.post(
        "/v1/connect-sessions", json={"user_id": user_id}, headers=clients.patterned.auth
    )
    assert refused.json()["error"]["details"]["owner"] == clients.open_.name
    async with db.transaction() as session:
        event = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.connection_id == row.id, AuditEvent.action == "connection.transferred"
            )
        )
    assert event is not None and event.actor == f"client:{clients.operator.name}"
    assert (event.details["from"], event.details["to"]) == (
        clients.patterned.name,
        clients.open_.name,
    )
    service_key_refused = await http.post(
        f"/v1/connections/{row.id}/transfer",
        json={"to": clients.open_.name},
        headers=clients.open_.auth,
    )
    assert service_key_refused.status_code == 403


async def test_transfer_into_a_confined_space_moves_the_connection_out_of_everyone_elses_reach(
    http: httpx.AsyncClient, stack: Stack, db: Database, clients: Clients
) -> None:
    user_id = b_user()
    email = await connected(http, stack, clients.patterned, user_id)
    # Cached on the way: the transfer must reach the proxy's cache.
    assert await proxied_workspaces(http, clients.patterned, user_id) == {
        workspace_of(stack, email)
    }
    [row] = await rows(db, user_id)

    moved = await http.post(
        f"/v1/connections/{row.id}/transfer",
        json={"to": clients.confined.name},
        headers=clients.operator.auth,
    )

    assert moved.status_code == 200, moved.text
    assert moved.json()["confined"] is True
    deadline = time.monotonic() + 5
    while True:
        gone = await http.get(f"/proxy/users/{user_id}/meetings", headers=clients.patterned.auth)
        if gone.status_code == 404 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.02)
    assert gone.status_code == 404
    assert await proxied_workspaces(http, clients.confined, user_id) == {workspace_of(stack, email)}


async def test_transfer_into_a_space_that_holds_the_user_is_a_conflict(
    http: httpx.AsyncClient, stack: Stack, db: Database, clients: Clients
) -> None:
    user_id = b_user()
    await connected(http, stack, clients.patterned, user_id)
    await connected(http, stack, clients.confined, user_id)
    shared, own = await rows(db, user_id)

    for connection, to in ((shared, clients.confined.name), (own, clients.open_.name)):
        refused = await http.post(
            f"/v1/connections/{connection.id}/transfer",
            json={"to": to},
            headers=clients.operator.auth,
        )
        assert refused.status_code == 409
        assert error_code(refused) == "transfer_conflict"
    assert [(r.owner_client_id, r.confined_to_client_id) for r in await rows(db, user_id)] == [
        (clients.patterned.id, None),
        (clients.confined.id, clients.confined.id),
    ]


@pytest.fixture
def cli_env(stack: Stack, database_url: URL, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = stack.settings
    assert settings.encryption_keys is not None and settings.contio_client_secret is not None
    monkeypatch.setenv("GATEWAY_DATABASE_URL", sync_url(database_url))
    monkeypatch.setenv("GATEWAY_ENCRYPTION_KEYS", settings.encryption_keys.get_secret_value())


@pytest.mark.usefixtures("cli_env")
async def test_transfer_through_the_cli_is_audited_with_the_os_user(
    http: httpx.AsyncClient, stack: Stack, db: Database, clients: Clients
) -> None:
    user_id = b_user()
    await connected(http, stack, clients.patterned, user_id)
    [row] = await rows(db, user_id)

    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["connections", "transfer", str(row.id), "--to", "operator", "--json"],
    )
    unknown = await asyncio.to_thread(
        CliRunner().invoke, cli, ["connections", "transfer", str(row.id), "--to", "nobody-x"]
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["owner"] == "operator"
    assert unknown.exit_code == 1 and "client_not_found" in unknown.output
    [after] = await rows(db, user_id)
    assert after.owner_client_id is None
    async with db.transaction() as session:
        event = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.connection_id == row.id, AuditEvent.action == "connection.transferred"
            )
        )
    assert event is not None and event.actor.startswith("cli:")


# Import


async def test_an_import_is_operator_owned_or_owned_by_the_named_client_in_its_space(
    http: httpx.AsyncClient, stack: Stack, db: Database, clients: Clients
) -> None:
    user_id = b_user()
    email = account()
    imported = await http.post(
        "/v1/connections/import",
        json=body_for(user_id, broker_grant(stack, email)),
        headers=clients.operator.auth,
    )
    assert imported.status_code == 201, imported.text
    assert (imported.json()["owner"], imported.json()["confined"]) == ("operator", False)
    refused = await http.post(
        "/v1/connect-sessions", json={"user_id": user_id}, headers=clients.open_.auth
    )
    assert refused.json()["error"]["details"]["owner"] == "operator"

    for_a = await http.post(
        "/v1/connections/import",
        json=body_for(user_id, broker_grant(stack, account()), owner=clients.confined.name),
        headers=clients.operator.auth,
    )
    assert for_a.status_code == 201, for_a.text
    assert (for_a.json()["owner"], for_a.json()["confined"]) == (clients.confined.name, True)
    outside = await http.post(
        "/v1/connections/import",
        json=body_for(
            f"x-{uuid.uuid4().hex[:8]}",
            broker_grant(stack, account()),
            owner=clients.patterned.name,
        ),
        headers=clients.operator.auth,
    )
    assert outside.status_code == 403 and error_code(outside) == "user_not_allowed"
    over = await http.post(
        "/v1/connections/import",
        json=body_for(user_id, broker_grant(stack, account()), owner=clients.open_.name),
        headers=clients.operator.auth,
    )
    assert over.status_code == 409 and error_code(over) == "connection_owned_by_other_client"
    assert await proxied_workspaces(http, clients.patterned, user_id) == {
        workspace_of(stack, email)
    }
