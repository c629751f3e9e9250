"""The partner admin API: key authentication, connections and workspaces."""

from __future__ import annotations

import uuid

import pytest

from tests.gateway_sandbox.driver import FakeClock, Sandbox


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_a_missing_or_wrong_api_key_is_unauthorized(sandbox: Sandbox, key: str | None) -> None:
    response = sandbox.admin("GET", "/connections", key=key)

    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "unauthorized"
    assert body["error"] == body["message"]
    assert body["request_id"] == response.headers["x-request-id"]


def test_a_foreign_client_id_header_is_unauthorized(sandbox: Sandbox) -> None:
    response = sandbox.http.get(
        "/v1/partner/admin/connections",
        headers={"X-API-Key": "sandbox-admin-key", "X-Client-ID": "someone-else"},
    )

    assert response.status_code == 401


def test_a_user_who_authorized_has_an_active_connection(sandbox: Sandbox, clock: FakeClock) -> None:
    sandbox.tokens_for("ann@example.com", scope="openid meetings:read")
    user = sandbox.store.user_by_email("ann@example.com")
    assert user is not None

    body = sandbox.admin("GET", "/connections").json()

    assert body["total"] == 1
    assert body["limit"] == 50
    assert body["offset"] == 0
    (connection,) = body["items"]
    assert uuid.UUID(connection["id"]) == sandbox.store.connection_id(user)
    assert connection["user_id"] == str(user.id)
    assert connection["user_name"] == "Ann"
    assert connection["user_email"] == "ann@example.com"
    assert connection["oauth_scopes"] == ["openid", "meetings:read"]
    assert connection["status"] == "active"
    assert connection["oauth_expires_at"] is not None
    assert connection["last_used_at"] is None


def test_an_api_call_sets_last_used_at(sandbox: Sandbox, clock: FakeClock) -> None:
    tokens = sandbox.tokens_for("ann@example.com")
    clock.advance(60)
    sandbox.api("/profile", tokens["access_token"])

    (connection,) = sandbox.admin("GET", "/connections").json()["items"]

    assert connection["last_used_at"] is not None
    assert connection["last_used_at"] > connection["created_at"]


def test_connections_are_filtered_by_status_and_user(sandbox: Sandbox) -> None:
    sandbox.tokens_for("ann@example.com")
    sandbox.tokens_for("bob@example.com")
    sandbox.store.revoke_user("bob@example.com")
    bob = sandbox.store.user_by_email("bob@example.com")
    assert bob is not None

    active = sandbox.admin("GET", "/connections", status="active").json()["items"]
    revoked = sandbox.admin("GET", "/connections", status="revoked").json()["items"]
    of_bob = sandbox.admin("GET", "/connections", user_id=str(bob.id)).json()["items"]

    assert [c["user_email"] for c in active] == ["ann@example.com"]
    assert [c["user_email"] for c in revoked] == ["bob@example.com"]
    assert [c["user_email"] for c in of_bob] == ["bob@example.com"]


def test_a_connection_whose_refresh_tokens_expired_is_expired(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.tokens_for("ann@example.com")
    clock.advance(30 * 86400)

    (connection,) = sandbox.admin("GET", "/connections").json()["items"]

    assert connection["status"] == "expired"


def test_connections_are_paginated(sandbox: Sandbox) -> None:
    for name in ("ann", "bob", "cat"):
        sandbox.tokens_for(f"{name}@example.com")

    body = sandbox.admin("GET", "/connections", limit="2", offset="1").json()

    assert [c["user_email"] for c in body["items"]] == ["bob@example.com", "cat@example.com"]
    assert body["total"] == 3


@pytest.mark.parametrize(
    "params", [{"limit": "101"}, {"status": "gone"}, {"user_id": "nope"}, {"offset": "-1"}]
)
def test_bad_list_parameters_are_400(sandbox: Sandbox, params: dict[str, str]) -> None:
    assert sandbox.admin("GET", "/connections", **params).status_code == 400


def test_one_connection_is_found_by_id(sandbox: Sandbox) -> None:
    sandbox.tokens_for("ann@example.com")
    (listed,) = sandbox.admin("GET", "/connections").json()["items"]

    response = sandbox.admin("GET", f"/connections/{listed['id']}")

    assert response.status_code == 200
    assert response.json() == listed


def test_an_unknown_connection_is_404(sandbox: Sandbox) -> None:
    response = sandbox.admin("GET", f"/connections/{uuid.uuid4()}")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_deleting_a_connection_revokes_every_token_of_the_user(sandbox: Sandbox) -> None:
    first = sandbox.tokens_for("ann@example.com")
    second = sandbox.tokens_for("ann@example.com")
    (listed,) = sandbox.admin("GET", "/connections").json()["items"]

    response = sandbox.admin("DELETE", f"/connections/{listed['id']}")

    assert response.status_code == 204
    for tokens in (first, second):
        assert sandbox.api("/profile", tokens["access_token"]).status_code == 401
        assert sandbox.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert sandbox.admin("GET", f"/connections/{listed['id']}").json()["status"] == "revoked"


def test_reauthorizing_keeps_the_connection_id_and_reactivates_it(sandbox: Sandbox) -> None:
    sandbox.tokens_for("ann@example.com")
    (before,) = sandbox.admin("GET", "/connections").json()["items"]
    sandbox.admin("DELETE", f"/connections/{before['id']}")

    sandbox.tokens_for("ann@example.com")

    (after,) = sandbox.admin("GET", "/connections").json()["items"]
    assert after["id"] == before["id"]
    assert after["status"] == "active"


def test_workspaces_list_the_partners_workspaces_with_their_user_counts(sandbox: Sandbox) -> None:
    sandbox.tokens_for("ann@example.com")

    body = sandbox.admin("GET", "/workspaces").json()

    # The seeded demo user's and Acme Team (see seed.DEFAULT), then ann's; Globex is another
    # partner's and not listed.
    counts = {w["workspace_name"]: w["user_count"] for w in body["items"]}
    assert counts == {"Demo's Workspace": 1, "Acme Team": 3, "Ann's Workspace": 1}
    assert body["total"] == 3
    assert body["limit"] == 50
