"""``GET /v1/audit-events``: who did what to a connection, newest first, in pages."""

from __future__ import annotations

import httpx

from gateway.kit.db import Database
from tests.admin.conftest import connected


async def test_a_connections_trail_pages_newest_first(
    admin: httpx.AsyncClient, http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)
    await admin.post(f"/v1/connections/{connection.id}/refresh")
    await admin.delete(f"/v1/connections/{connection.id}")

    seen: list[dict[str, object]] = []
    cursor = None
    while True:
        params = {"connection_id": str(connection.id), "limit": "1"}
        if cursor:
            params["cursor"] = cursor
        body = (await admin.get("/v1/audit-events", params=params)).json()
        assert len(body["items"]) <= 1
        seen += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    actions = [item["action"] for item in seen]
    assert actions == [
        "connection.upstream_revoked",
        "connection.revoked",
        "connection.created",
    ]
    assert all(item["connection_id"] == str(connection.id) for item in seen)
    assert all(str(item["occurred_at"]).endswith("Z") for item in seen)
    # The client that connected the user is named, as everywhere in the trail.
    assert str(seen[-1]["actor"]).startswith("client:svc-")


async def test_the_action_filter(
    admin: httpx.AsyncClient, http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)
    await admin.delete(f"/v1/connections/{connection.id}")

    body = (
        await admin.get(
            "/v1/audit-events",
            params={"connection_id": str(connection.id), "action": "connection.revoked"},
        )
    ).json()

    [event] = body["items"]
    assert event["action"] == "connection.revoked" and event["actor"].startswith("client:")
    assert body["next_cursor"] is None


async def test_the_actor_and_time_filters(
    admin: httpx.AsyncClient, http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)
    await admin.delete(f"/v1/connections/{connection.id}")
    trail = (
        await admin.get("/v1/audit-events", params={"connection_id": str(connection.id)})
    ).json()["items"]
    created = next(e for e in trail if e["action"] == "connection.created")
    revoked = next(e for e in trail if e["action"] == "connection.revoked")

    by_actor = await admin.get(
        "/v1/audit-events",
        params={"connection_id": str(connection.id), "actor": revoked["actor"]},
    )
    assert {e["actor"] for e in by_actor.json()["items"]} == {revoked["actor"]}
    assert created["id"] not in {e["id"] for e in by_actor.json()["items"]}
    # since is inclusive, until exclusive: the window of the one entry.
    window = await admin.get(
        "/v1/audit-events",
        params={
            "connection_id": str(connection.id),
            "action": "connection.created",
            "since": created["occurred_at"],
            "until": revoked["occurred_at"],
        },
    )
    assert [e["id"] for e in window.json()["items"]] == [created["id"]]
    later = await admin.get(
        "/v1/audit-events",
        params={"connection_id": str(connection.id), "since": revoked["occurred_at"]},
    )
    assert created["id"] not in {e["id"] for e in later.json()["items"]}


async def test_bad_audit_parameters_are_400(admin: httpx.AsyncClient) -> None:
    for params, code in (
        ({"connection_id": "nope"}, "invalid_connection_id"),
        ({"limit": "1000"}, "invalid_limit"),
        ({"cursor": "!!"}, "invalid_cursor"),
        ({"who": "me"}, "unknown_parameter"),
        ({"actor": ""}, "invalid_actor"),
        ({"action": "a" * 65}, "invalid_action"),
        ({"since": "yesterday"}, "invalid_since"),
        ({"until": "2026-12-07T10:00:00"}, "invalid_until"),  # no time zone
        ({"since": "2026-12-07T10:00:00Z", "until": "2026-12-07T09:00:00Z"}, "invalid_until"),
    ):
        response = await admin.get("/v1/audit-events", params=params)
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] == code
        assert set(response.json()["error"]) <= {"code", "message", "details"}
