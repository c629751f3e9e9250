"""Delegated keys through the admin API and the CLI: who may issue, list and revoke them, what they
may carry, that the key is shown once and kept only as its hash, and that a delegated key is refused
by every endpoint but the proxy.

The gateway and the Contio sandbox are real servers on loopback; ``confined`` (A) has a space of
its own, ``patterned`` (B) is unconfined for user ids starting ``b-``, ``open_`` (C) is unconfined
for anyone (``tests.hostile.owner_fixtures``).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.engine import URL

from gateway.cli import cli
from gateway.clients.service_keys import hash_key
from gateway.kit.db import Database, sync_url
from gateway.models import DelegatedKey
from tests.connections.delegated_fixtures import audited, connection_of, issue, issued
from tests.console.conftest import sign_in
from tests.fixtures.stack import Stack
from tests.hostile.owner_fixtures import Client, Clients, account, clients, error_code, make_client

__all__ = ["clients"]  # fixtures


async def listed(
    http: httpx.AsyncClient, client: Client, connection_id: object
) -> list[dict[str, Any]]:
    response = await http.get(f"/v1/connections/{connection_id}/keys", headers=client.auth)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def operator_with_proxy(db: Database, **changes: Any) -> Client:
    return await make_client(db, ["admin", "proxy"], **changes)


# Issuing


async def test_the_owner_issues_a_key_shown_once_and_stored_only_as_its_hash(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connection_of(http, db, clients.patterned)
    before = datetime.now(UTC)

    answer = await issued(
        http, clients.patterned, connection.id, ttl_seconds=600, allow=["GET /meetings/**"]
    )

    key = answer["key"]
    assert key.startswith("gw_") and len(key) > 40
    assert answer["connection_id"] == str(connection.id)
    assert answer["allow"] == ["GET /meetings/**"]
    assert answer["client"] == clients.patterned.name
    assert answer["issued_by"] == f"client:{clients.patterned.name}"
    assert answer["revoked_at"] is None
    expires = datetime.fromisoformat(answer["expires_at"])
    assert before + timedelta(seconds=595) < expires < before + timedelta(seconds=605)
    [item] = await listed(http, clients.patterned, connection.id)
    assert "key" not in item
    assert item == {k: v for k, v in answer.items() if k != "key"}
    assert item["prefix"] == key[:11]
    async with db.transaction() as session:
        [row] = (
            await session.scalars(
                select(DelegatedKey).where(DelegatedKey.connection_id == connection.id)
            )
        ).all()
        assert row.key_hash == hash_key(key)
        # Nowhere in the database: not in the keys table, not in the audit trail.
        for table in ("delegated_keys", "audit_events"):
            found = await session.scalar(
                text(f"SELECT count(*) FROM {table} t WHERE strpos(t::text, :key) > 0"),
                {"key": key},
            )
            assert found == 0, table
    [event] = await audited(db, connection.id, "connection.delegated_key_issued")
    assert event.actor == f"client:{clients.patterned.name}"
    assert event.details["delegated_key_id"] == answer["id"]


async def test_without_allow_a_key_carries_the_issuers_own_rules_for_the_default_ttl(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connection_of(http, db, clients.patterned)
    before = datetime.now(UTC)

    answer = await issued(http, clients.patterned, connection.id)

    assert answer["allow"] == ["GET /**"]
    expires = datetime.fromisoformat(answer["expires_at"])
    assert before + timedelta(seconds=895) < expires < before + timedelta(seconds=905)


@pytest.mark.parametrize("ttl", [0, 3601, "900", 1.5, True])
async def test_a_ttl_outside_one_second_to_an_hour_is_refused(
    http: httpx.AsyncClient, db: Database, clients: Clients, ttl: object
) -> None:
    connection = await connection_of(http, db, clients.patterned)

    refused = await issue(http, clients.patterned, connection.id, ttl_seconds=ttl)

    assert refused.status_code == 400
    assert error_code(refused) == "validation_error"
    assert await listed(http, clients.patterned, connection.id) == []


async def test_each_requested_rule_must_be_covered_by_one_of_the_issuers(
    http: httpx.AsyncClient, db: Database
) -> None:
    owner = await make_client(db, ["connect", "proxy"])
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE service_clients SET allow_rules = :rules WHERE id = :id"),
            {"rules": ["GET /meetings/**", "POST /meetings/*/notes"], "id": owner.id},
        )
    connection = await connection_of(http, db, owner)

    for rule in ("POST /meetings/**", "* /meetings", "GET /**", "GET /profile", "GET /**/x"):
        refused = await issue(http, owner, connection.id, allow=["GET /meetings/1", rule])
        assert refused.status_code == 400, rule
        assert error_code(refused) == "allow_not_subset"
        assert refused.json()["error"]["details"]["rule"] == rule
    malformed = await issue(http, owner, connection.id, allow=["FETCH /meetings"])
    assert (malformed.status_code, error_code(malformed)) == (400, "invalid_rule")
    assert await listed(http, owner, connection.id) == []

    narrower = ["GET /meetings", "GET /meetings/*/**", "POST /meetings/42/notes"]
    answer = await issued(http, owner, connection.id, allow=narrower)
    assert answer["allow"] == narrower


# Who may


async def test_a_client_that_sees_the_connection_but_does_not_own_it_is_refused(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connection_of(http, db, clients.patterned)
    key = await issued(http, clients.patterned, connection.id)
    base = f"/v1/connections/{connection.id}/keys"

    answers = [
        await issue(http, clients.open_, connection.id),
        await http.get(base, headers=clients.open_.auth),
        await http.delete(f"{base}/{key['id']}", headers=clients.open_.auth),
    ]

    assert [(a.status_code, error_code(a)) for a in answers] == [(403, "not_connection_owner")] * 3
    [still] = await listed(http, clients.patterned, connection.id)
    assert still["revoked_at"] is None


async def test_a_confined_clients_connection_is_not_found_by_any_other_client(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connection_of(http, db, clients.confined)
    key = await issued(http, clients.confined, connection.id)
    base = f"/v1/connections/{connection.id}/keys"

    for other in (clients.open_, clients.patterned):
        answers = [
            await issue(http, other, connection.id),
            await http.get(base, headers=other.auth),
            await http.delete(f"{base}/{key['id']}", headers=other.auth),
        ]
        assert [(a.status_code, error_code(a)) for a in answers] == [
            (404, "connection_not_found")
        ] * 3
    [still] = await listed(http, clients.confined, connection.id)
    assert still["revoked_at"] is None


async def test_an_operator_delegates_its_own_proxy_power_only_where_it_could_proxy(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    shared = await connection_of(http, db, clients.patterned)
    confined = await connection_of(http, db, clients.confined)
    operator = await operator_with_proxy(db)
    patterned_operator = await operator_with_proxy(db, user_pattern=r"x-.*")

    answer = await issued(http, operator, shared.id)
    no_proxy = await issue(http, clients.operator, shared.id)
    outside_space = await issue(http, operator, confined.id)
    outside_pattern = await issue(http, patterned_operator, shared.id)

    assert (answer["client"], answer["allow"]) == (operator.name, ["GET /**"])
    for refused, reason in (
        (no_proxy, "no_proxy_scope"),
        (outside_space, "outside_space"),
        (outside_pattern, "user_pattern"),
    ):
        assert (refused.status_code, error_code(refused)) == (403, "delegation_forbidden")
        assert refused.json()["error"]["details"]["reason"] == reason
    # An operator lists and revokes any connection's keys, whoever issued them.
    owners = await issued(http, clients.confined, confined.id)
    revoked = await http.delete(
        f"/v1/connections/{confined.id}/keys/{owners['id']}", headers=clients.operator.auth
    )
    assert revoked.status_code == 204
    [item] = await listed(http, clients.operator, confined.id)
    assert item["revoked_at"] is not None


# Revoking


async def test_revoking_is_idempotent_and_audited_once(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connection_of(http, db, clients.patterned)
    other = await connection_of(http, db, clients.patterned)
    key = await issued(http, clients.patterned, connection.id)
    base = f"/v1/connections/{connection.id}/keys"

    first = await http.delete(f"{base}/{key['id']}", headers=clients.patterned.auth)
    again = await http.delete(f"{base}/{key['id']}", headers=clients.patterned.auth)
    unknown = await http.delete(f"{base}/{uuid.uuid4()}", headers=clients.patterned.auth)
    malformed = await http.delete(f"{base}/not-a-key", headers=clients.patterned.auth)
    elsewhere = await http.delete(
        f"/v1/connections/{other.id}/keys/{key['id']}", headers=clients.patterned.auth
    )

    assert (first.status_code, again.status_code) == (204, 204)
    for answer in (unknown, malformed, elsewhere):
        assert (answer.status_code, error_code(answer)) == (404, "delegated_key_not_found")
    [item] = await listed(http, clients.patterned, connection.id)
    assert item["revoked_at"] is not None
    [event] = await audited(db, connection.id, "connection.delegated_key_revoked")
    assert event.details == {"delegated_key_id": key["id"], "reason": "revoked"}


async def test_revoking_or_transferring_the_connection_revokes_its_keys(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    transferred = await connection_of(http, db, clients.patterned)
    revoked = await connection_of(http, db, clients.patterned)
    for connection in (transferred, revoked):
        await issued(http, clients.patterned, connection.id)

    moved = await http.post(
        f"/v1/connections/{transferred.id}/transfer",
        json={"to": clients.open_.name},
        headers=clients.operator.auth,
    )
    ended = await http.delete(f"/v1/connections/{revoked.id}", headers=clients.operator.auth)

    assert (moved.status_code, ended.status_code) == (200, 200)
    for connection, reason in ((transferred, "transferred"), (revoked, "connection_revoked")):
        [item] = await listed(http, clients.operator, connection.id)
        assert item["revoked_at"] is not None
        [event] = await audited(db, connection.id, "connection.delegated_key_revoked")
        assert event.details["reason"] == reason
    refused = await issue(http, clients.patterned, revoked.id)
    assert (refused.status_code, error_code(refused)) == (410, "connection_revoked")


# Only the proxy


async def test_a_delegated_key_is_refused_by_every_endpoint_but_the_proxy(
    http: httpx.AsyncClient, stack: Stack, db: Database
) -> None:
    everything = await make_client(db, ["connect", "proxy", "admin"])
    connection = await connection_of(http, db, everything)
    key = (await issued(http, everything, connection.id))["key"]
    auth = {"Authorization": f"Bearer {key}"}

    answers = {
        "admin list": await http.get("/v1/connections", headers=auth),
        "admin show": await http.get(f"/v1/connections/{connection.id}", headers=auth),
        "keys": await http.post(f"/v1/connections/{connection.id}/keys", json={}, headers=auth),
        "audit": await http.get("/v1/audit-events", headers=auth),
        "connect session": await http.post(
            "/v1/connect-sessions", json={"user_id": connection.user_id}, headers=auth
        ),
        "provisioning": await http.post(
            "/v1/provisioning",
            json={"user_id": connection.user_id, "email": account()},
            headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
        ),
    }

    for name, answer in answers.items():
        assert (answer.status_code, error_code(answer)) == (
            403,
            "delegated_key_not_allowed",
        ), name
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=10) as browser:
        console = await sign_in(browser, key)
    assert console.status_code == 403
    assert "cannot sign in" in console.text


# The CLI


@pytest.fixture
def cli_env(stack: Stack, database_url: URL, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = stack.settings
    assert settings.encryption_keys is not None
    monkeypatch.setenv("GATEWAY_DATABASE_URL", sync_url(database_url))
    monkeypatch.setenv("GATEWAY_ENCRYPTION_KEYS", settings.encryption_keys.get_secret_value())


async def run_cli(*args: str) -> Any:
    return await asyncio.to_thread(CliRunner().invoke, cli, ["connections", "keys", *args])


@pytest.mark.usefixtures("cli_env")
async def test_the_cli_issues_lists_and_revokes_audited_with_the_os_user(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connection_of(http, db, clients.patterned)
    cid = str(connection.id)

    created = await run_cli("create", cid, "--ttl", "120", "--allow", "GET /meetings/**")
    as_json = await run_cli("create", cid, "--as", clients.open_.name, "--json")
    too_wide = await run_cli("create", cid, "--allow", "POST /**")
    unknown_client = await run_cli("create", cid, "--as", "nobody-x")

    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    assert key.startswith("gw_")
    assert json.loads(as_json.output)["client"] == clients.open_.name
    assert too_wide.exit_code == 1 and "allow_not_subset" in too_wide.output
    assert unknown_client.exit_code == 1 and "client_not_found" in unknown_client.output
    listing = await run_cli("list", cid, "--json")
    items = json.loads(listing.output)["items"]
    assert [item["client"] for item in items] == [clients.open_.name, clients.patterned.name]
    assert key not in listing.output and items[1]["prefix"] == key[:11]
    revoked = await run_cli("revoke", cid, items[1]["id"])
    assert revoked.exit_code == 0, revoked.output
    after = {i["id"]: i["revoked_at"] for i in await listed(http, clients.patterned, cid)}
    assert after[items[1]["id"]] is not None and after[items[0]["id"]] is None
    for action in ("connection.delegated_key_issued", "connection.delegated_key_revoked"):
        events = await audited(db, connection.id, action)
        assert events and all(e.actor.startswith("cli:") for e in events), action


@pytest.mark.usefixtures("cli_env")
async def test_the_cli_needs_a_client_for_an_operator_owned_connection(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connection_of(http, db, clients.patterned)
    moved = await http.post(
        f"/v1/connections/{connection.id}/transfer",
        json={"to": "operator"},
        headers=clients.operator.auth,
    )
    assert moved.status_code == 200, moved.text

    refused = await run_cli("create", str(connection.id))
    named = await run_cli("create", str(connection.id), "--as", clients.patterned.name)

    assert refused.exit_code == 1 and "delegation_forbidden" in refused.output
    assert named.exit_code == 0, named.output
