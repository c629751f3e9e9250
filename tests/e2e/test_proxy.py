"""Calling the provider's API through the proxy, end to end against the sandbox."""

from __future__ import annotations

import httpx
from sqlalchemy import update

from gateway.kit.db import Database
from gateway.models import Connection, ConnectionStatus
from tests.e2e.flows import connect_new_user
from tests.fixtures.stack import Stack, new_client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_proxy_returns_the_users_meetings(
    http: httpx.AsyncClient, service_key: str, stack: Stack
) -> None:
    user_id = await connect_new_user(http, service_key)
    response = await http.get(f"/proxy/users/{user_id}/meetings", headers=bearer(service_key))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    page = response.json()
    assert page["limit"] == 25 and page["offset"] == 0 and page["total"] > 0
    sandbox_user = stack.sandbox_store.user_by_email(f"{user_id}@example.com")
    assert {m["workspace_id"] for m in page["items"]} == {str(sandbox_user.workspace_id)}
    assert "gateway-error" not in response.headers


async def test_two_users_see_their_own_meetings(http: httpx.AsyncClient, service_key: str) -> None:
    first, second = (
        await connect_new_user(http, service_key),
        await connect_new_user(http, service_key),
    )
    a = (await http.get(f"/proxy/users/{first}/meetings", headers=bearer(service_key))).json()
    b = (await http.get(f"/proxy/users/{second}/meetings", headers=bearer(service_key))).json()
    assert {m["id"] for m in a["items"]}.isdisjoint({m["id"] for m in b["items"]})


async def test_query_string_passes_unchanged(http: httpx.AsyncClient, service_key: str) -> None:
    user_id = await connect_new_user(http, service_key)
    response = await http.get(
        f"/proxy/users/{user_id}/meetings?limit=5&offset=2", headers=bearer(service_key)
    )
    page = response.json()
    assert (page["limit"], page["offset"], len(page["items"])) == (5, 2, 5)


async def test_upstream_errors_pass_through_unchanged(
    http: httpx.AsyncClient, service_key: str
) -> None:
    user_id = await connect_new_user(http, service_key)
    response = await http.get(
        f"/proxy/users/{user_id}/meetings/not-a-uuid", headers=bearer(service_key)
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_meeting_id"
    assert "gateway-error" not in response.headers


async def test_user_without_connection_is_not_found(
    http: httpx.AsyncClient, service_key: str
) -> None:
    response = await http.get("/proxy/users/nobody-here/meetings", headers=bearer(service_key))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "connection_not_found"
    assert response.headers["gateway-error"] == "1"


async def test_connection_needing_reauth_answers_409(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    user_id = await connect_new_user(http, service_key)
    await set_status(db, user_id, ConnectionStatus.NEEDS_REAUTH)
    response = await http.get(f"/proxy/users/{user_id}/meetings", headers=bearer(service_key))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "reauth_required"


async def test_revoked_connection_answers_410(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    user_id = await connect_new_user(http, service_key)
    await set_status(db, user_id, ConnectionStatus.REVOKED)
    response = await http.get(f"/proxy/users/{user_id}/meetings", headers=bearer(service_key))
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "connection_revoked"


async def set_status(db: Database, user_id: str, status: ConnectionStatus) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Connection).where(Connection.user_id == user_id).values(status=status)
        )


async def test_calls_outside_the_allow_rules_are_forbidden(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    user_id = await connect_new_user(http, service_key)
    narrow = await new_client(db, ["proxy"], ["GET /profile"])
    allowed = await http.get(f"/proxy/users/{user_id}/profile", headers=bearer(narrow))
    refused = await http.get(f"/proxy/users/{user_id}/meetings", headers=bearer(narrow))
    assert allowed.status_code == 200
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "proxy_forbidden"


async def test_a_client_without_rules_may_proxy_nothing(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    user_id = await connect_new_user(http, service_key)
    bare = await new_client(db, ["proxy"])
    response = await http.get(f"/proxy/users/{user_id}/meetings", headers=bearer(bare))
    assert response.json()["error"]["code"] == "proxy_forbidden"


async def test_proxy_needs_the_proxy_scope(http: httpx.AsyncClient, db: Database) -> None:
    connect_only = await new_client(db, ["connect"], ["GET /**"])
    response = await http.get("/proxy/users/u/meetings", headers=bearer(connect_only))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


async def test_proxy_without_a_key_is_unauthorized(http: httpx.AsyncClient) -> None:
    response = await http.get("/proxy/users/u/meetings")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_policy_is_checked_on_the_normalised_path(
    http: httpx.AsyncClient, db: Database
) -> None:
    narrow = await new_client(db, ["proxy"], ["GET /meetings/**"])
    response = await http.get("/proxy/users/u/meetings/%2e%2e/profile", headers=bearer(narrow))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_path"


async def test_encoded_slash_is_an_invalid_path(http: httpx.AsyncClient, service_key: str) -> None:
    response = await http.get("/proxy/users/u/meetings%2F..%2Fx", headers=bearer(service_key))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_path"


async def test_unknown_provider_header_is_refused(
    http: httpx.AsyncClient, service_key: str
) -> None:
    response = await http.get(
        "/proxy/users/u/meetings", headers={**bearer(service_key), "Gateway-Provider": "nope"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_provider"


async def test_methods_the_proxy_does_not_carry_are_refused(
    http: httpx.AsyncClient, service_key: str
) -> None:
    response = await http.request("TRACE", "/proxy/users/u/meetings", headers=bearer(service_key))
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_a_meeting_is_created_and_changed_through_the_proxy(
    http: httpx.AsyncClient, db: Database
) -> None:
    key = await new_client(
        db, ["connect", "proxy"], ["GET /meetings/**", "POST /meetings", "PATCH /meetings/*"]
    )
    user_id = await connect_new_user(http, key)
    created = await http.post(
        f"/proxy/users/{user_id}/meetings", json={"title": "Kick-off"}, headers=bearer(key)
    )
    assert created.status_code == 201, created.text
    meeting_id = created.json()["id"]
    changed = await http.patch(
        f"/proxy/users/{user_id}/meetings/{meeting_id}",
        json={"title": "Kick-off (moved)"},
        headers=bearer(key),
    )
    assert changed.status_code == 200, changed.text
    read = await http.get(f"/proxy/users/{user_id}/meetings/{meeting_id}", headers=bearer(key))
    assert read.json()["title"] == "Kick-off (moved)"
