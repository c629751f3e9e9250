"""Revoking by selector through the admin API: without ``confirm`` echoing the number of
connections the selector matches, 428 ``confirmation_required`` with that number, and nothing is
revoked; with it, each is revoked and audited under the operator; below ``operator``, refused."""

from __future__ import annotations

import uuid

import httpx

from gateway.kit.db import Database
from tests.e2e.flows import connect_new_user, load_connection
from tests.hostile.owner_fixtures import error_code, make_client


async def labelled_users(http: httpx.AsyncClient, key: str, batch: str, count: int) -> list[str]:
    """``count`` freshly connected users, their connections labelled ``batch=<batch>``."""
    users = []
    for _ in range(count):
        user_id = await connect_new_user(http, key)
        listed = await http.get(
            "/v1/connections",
            params={"user_id": user_id},
            headers={"Authorization": f"Bearer {key}"},
        )
        [connection] = listed.json()["items"]
        labelled = await http.patch(
            f"/v1/connections/{connection['id']}",
            json={"labels": {"batch": batch}},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert labelled.status_code == 200, labelled.text
        users.append(user_id)
    return users


async def test_revoking_by_selector_needs_the_number_it_affects(
    http: httpx.AsyncClient, db: Database, service_key: str
) -> None:
    operator = await make_client(db, ["operator"])
    batch = uuid.uuid4().hex[:8]
    users = await labelled_users(http, service_key, batch, 2)
    selector = {"label": [f"batch={batch}"]}
    for confirm in (None, 1, 3):
        body = selector if confirm is None else {**selector, "confirm": confirm}
        refused = await http.post("/v1/connections/revocations", json=body, headers=operator.auth)
        assert refused.status_code == 428, refused.text
        assert error_code(refused) == "confirmation_required"
        assert refused.json()["error"]["details"] == {"affected": 2}
    for user_id in users:
        assert (await load_connection(db, user_id)).status.value == "active"

    done = await http.post(
        "/v1/connections/revocations", json={**selector, "confirm": 2}, headers=operator.auth
    )
    assert done.status_code == 200, done.text
    assert done.json()["revoked"] == 2
    revoked = [await load_connection(db, user_id) for user_id in users]
    assert {c.status.value for c in revoked} == {"revoked"}
    audit = await http.get(
        "/v1/audit-events",
        params={"connection_id": str(revoked[0].id)},
        headers=operator.auth,
    )
    actors = {e["actor"] for e in audit.json()["items"] if e["action"] == "connection.revoked"}
    assert actors == {f"client:{operator.name}"}
    acts = await http.get(
        "/v1/audit-events",
        params={"actor": f"client:{operator.name}", "action": "connections.revoked_by_selector"},
        headers=operator.auth,
    )
    [act] = acts.json()["items"]
    assert act["details"] == {"selector": {"label": [f"batch={batch}"]}, "confirmed": 2}
    again = await http.post(
        "/v1/connections/revocations", json={**selector, "confirm": 2}, headers=operator.auth
    )
    assert again.json()["error"]["details"] == {"affected": 0}


async def test_revoking_by_selector_is_an_operators(
    http: httpx.AsyncClient, db: Database, service_key: str
) -> None:
    support = await make_client(db, ["support"])
    body = {"provider": "contio", "confirm": 0}
    for caller in (support.key, service_key):
        response = await http.post(
            "/v1/connections/revocations",
            json=body,
            headers={"Authorization": f"Bearer {caller}"},
        )
        assert response.status_code == 403, response.text


async def test_a_confined_service_client_can_neither_count_nor_revoke_anothers_users(
    http: httpx.AsyncClient, db: Database, service_key: str
) -> None:
    batch = uuid.uuid4().hex[:8]
    users = await labelled_users(http, service_key, batch, 2)
    confined = await make_client(db, ["connect", "proxy"], own_users_only=True)
    selector = {"label": [f"batch={batch}"]}
    for body in (selector, {**selector, "confirm": 2}, {"user_id": users[0], "confirm": 1}):
        refused = await http.post("/v1/connections/revocations", json=body, headers=confined.auth)
        assert refused.status_code == 403, refused.text
        assert error_code(refused) in {"insufficient_scope", "role_required"}
        assert "affected" not in refused.json()["error"]["details"]  # not even the count
    for user_id in users:
        assert (await load_connection(db, user_id)).status.value == "active"


async def test_a_selector_is_required(http: httpx.AsyncClient, db: Database) -> None:
    operator = await make_client(db, ["operator"])
    response = await http.post("/v1/connections/revocations", json={}, headers=operator.auth)
    assert response.status_code in (400, 422)
