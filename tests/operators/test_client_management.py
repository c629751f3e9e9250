"""``/v1/clients`` over HTTP: an operator creates, changes, re-keys and disables service clients;
callers below ``operator``, service clients (confined or not) and anyone reaching above their own
role are refused, and every act is in the audit trail under its actor."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from gateway.kit.db import Database
from tests.hostile.owner_fixtures import Client, Clients, clients, error_code, make_client

__all__ = ["clients"]  # fixtures


def fresh_name() -> str:
    return f"svc-{uuid.uuid4().hex[:10]}"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def operator(db: Database) -> Client:
    return await make_client(db, ["operator"])


async def create(
    http: httpx.AsyncClient, by: Client, **body: Any
) -> tuple[httpx.Response, dict[str, Any]]:
    sent = {"name": fresh_name(), "scopes": ["connect", "proxy"], "allow": ["GET /**"], **body}
    return await http.post("/v1/clients", json=sent, headers=by.auth), sent


async def audit_actions(http: httpx.AsyncClient, key: str) -> list[dict[str, Any]]:
    response = await http.get("/v1/audit-events", params={"limit": 50}, headers=bearer(key))
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_an_operator_creates_a_client_whose_key_is_shown_once_and_works(
    http: httpx.AsyncClient, operator: Client
) -> None:
    response, sent = await create(
        http, operator, own_users_only=True, rate_limit={"rate": "50/s", "burst": 5}
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    key = created.pop("key")
    assert created["own_users_only"] is True
    assert created["rate_limit"] == {"per_second": 50.0, "burst": 5}
    works = await http.get("/v1/connections", headers=bearer(key))
    assert works.status_code == 200
    shown = await http.get(f"/v1/clients/{sent['name']}", headers=operator.auth)
    listed = await http.get("/v1/clients", headers=operator.auth)
    assert key not in shown.text and key not in listed.text
    assert shown.json()["scopes"] == ["connect", "proxy"]
    assert sent["name"] in {item["name"] for item in listed.json()["items"]}
    [entry] = [
        e
        for e in await audit_actions(http, operator.key)
        if e["action"] == "client.created" and e["details"]["client"] == sent["name"]
    ]
    assert entry["actor"] == f"client:{operator.name}"


async def test_an_operator_changes_rules_scopes_namespace_and_limit(
    http: httpx.AsyncClient, operator: Client
) -> None:
    _, sent = await create(http, operator)
    name = sent["name"]
    patch = {
        "scopes": ["connect"],
        "allow": ["POST /v1/**"],
        "user_pattern": "b-.*",
        "own_users_only": True,
        "rate_limit": {"rate": "600/min"},
    }
    changed = await http.patch(f"/v1/clients/{name}", json=patch, headers=operator.auth)
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["scopes"], body["allow"], body["user_pattern"]) == (
        ["connect"],
        ["POST /v1/**"],
        "b-.*",
    )
    assert body["rate_limit"] == {"per_second": 10.0, "burst": 10}
    lifted = await http.patch(
        f"/v1/clients/{name}",
        json={"user_pattern": None, "rate_limit": None},
        headers=operator.auth,
    )
    assert (lifted.json()["user_pattern"], lifted.json()["rate_limit"]) == (None, None)
    entries = [
        e
        for e in await audit_actions(http, operator.key)
        if e["action"] == "client.updated" and e["details"]["client"] == name
    ]
    assert len(entries) == 2 and entries[-1]["details"]["changed"]["scopes"] == ["connect"]


async def test_the_rules_are_the_clis(http: httpx.AsyncClient, operator: Client) -> None:
    bad_scope, _ = await create(http, operator, scopes=["everything"])
    bad_rule, _ = await create(http, operator, allow=["FETCH"])
    bad_pattern, _ = await create(http, operator, user_pattern="(")
    bad_limit, _ = await create(http, operator, rate_limit={"rate": "lots"})
    assert [
        (r.status_code, error_code(r)) for r in (bad_scope, bad_rule, bad_pattern, bad_limit)
    ] == [
        (400, "invalid_scope"),
        (400, "invalid_rule"),
        (400, "invalid_user_pattern"),
        (400, "invalid_rate_limit"),
    ]
    _, taken = await create(http, operator)
    again = await http.post("/v1/clients", json=taken, headers=operator.auth)
    assert (again.status_code, error_code(again)) == (409, "client_exists")


async def test_a_new_key_replaces_the_old_and_disabling_stops_it(
    http: httpx.AsyncClient, operator: Client
) -> None:
    response, sent = await create(http, operator)
    old = response.json()["key"]
    rotated = await http.post(f"/v1/clients/{sent['name']}/key", headers=operator.auth)
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    new = rotated.json()["key"]
    assert (await http.get("/v1/connections", headers=bearer(old))).status_code == 401
    assert (await http.get("/v1/connections", headers=bearer(new))).status_code == 200
    disabled = await http.delete(f"/v1/clients/{sent['name']}", headers=operator.auth)
    assert disabled.status_code == 200 and disabled.json()["revoked"] is True
    assert (await http.get("/v1/connections", headers=bearer(new))).status_code == 401
    enabled = await http.patch(
        f"/v1/clients/{sent['name']}", json={"enabled": True}, headers=operator.auth
    )
    assert enabled.json()["revoked"] is False
    assert (await http.get("/v1/connections", headers=bearer(new))).status_code == 200


async def test_callers_below_operator_and_service_clients_cannot_manage_clients(
    http: httpx.AsyncClient, db: Database, clients: Clients, operator: Client
) -> None:
    _, target = await create(http, operator)
    callers = [
        await make_client(db, ["viewer"]),
        await make_client(db, ["support"]),
        clients.confined,
        clients.open_,
    ]
    for caller in callers:
        attempts = [
            await http.post(
                "/v1/clients",
                json={"name": fresh_name(), "scopes": ["security"]},
                headers=caller.auth,
            ),
            await http.get("/v1/clients", headers=caller.auth),
            await http.patch(
                f"/v1/clients/{target['name']}", json={"scopes": ["admin"]}, headers=caller.auth
            ),
            await http.patch(
                f"/v1/clients/{caller.name}", json={"scopes": ["operator"]}, headers=caller.auth
            ),
            await http.post(f"/v1/clients/{target['name']}/key", headers=caller.auth),
            await http.delete(f"/v1/clients/{target['name']}", headers=caller.auth),
        ]
        for attempt in attempts:
            assert attempt.status_code == 403, (caller.name, attempt.text)
            assert "key" not in attempt.json()


async def test_no_one_reaches_above_their_own_role(
    http: httpx.AsyncClient, db: Database, operator: Client
) -> None:
    security = await make_client(db, ["security"])
    legacy = await make_client(db, ["admin"])
    refused = [
        (await create(http, operator, scopes=["security"]))[0],
        (await create(http, operator, scopes=["admin"]))[0],
        await http.patch(
            f"/v1/clients/{operator.name}", json={"scopes": ["security"]}, headers=operator.auth
        ),
        await http.post(f"/v1/clients/{security.name}/key", headers=operator.auth),
        await http.post(f"/v1/clients/{legacy.name}/key", headers=operator.auth),
        await http.delete(f"/v1/clients/{security.name}", headers=operator.auth),
        await http.patch(
            f"/v1/clients/{security.name}", json={"scopes": ["viewer"]}, headers=operator.auth
        ),
    ]
    for response in refused:
        assert response.status_code == 403, response.text
        assert response.json()["error"]["details"] == {
            "required": "security",
            "permission": "manage_clients",
        }
    itself = await http.get("/v1/clients", headers=operator.auth)
    [mine] = [c for c in itself.json()["items"] if c["name"] == operator.name]
    assert mine["scopes"] == ["operator"]
    made, _ = await create(http, security, scopes=["security"])
    assert made.status_code == 201
