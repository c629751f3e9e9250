"""The user API's gatekeeping: tokens, scopes, workspaces; and the profile."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.gateway_sandbox.driver import FakeClock, Sandbox


def test_profile_describes_the_user_and_their_workspace(sandbox: Sandbox, token: str) -> None:
    user = sandbox.store.user_by_email("ann@example.com")
    assert user is not None

    profile = sandbox.api("/profile", token).json()

    assert profile == {
        "id": str(user.id),
        "display_name": "Ann",
        "email": "ann@example.com",
        "created_at": profile["created_at"],
        "workspace_id": str(user.workspace_id),
        "workspace_name": "Ann's Workspace",
        "workspace_role": "WORKSPACE_OWNER",
        "plan_type": "PRO",
        "timezone": user.timezone,
    }
    assert datetime.fromisoformat(profile["created_at"]).tzinfo is not None


def test_a_missing_token_is_unauthorized(sandbox: Sandbox) -> None:
    response = sandbox.api("/profile", None)

    assert response.status_code == 401
    body = response.json()
    assert body == {
        "code": "unauthorized",
        "error": body["error"],
        "message": body["error"],
        "request_id": response.headers["x-request-id"],
    }
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_unknown_token_is_unauthorized(sandbox: Sandbox) -> None:
    assert sandbox.api("/profile", "cto_at_v1_made-up").json()["code"] == "unauthorized"


def test_an_expired_token_is_unauthorized(sandbox: Sandbox, token: str, clock: FakeClock) -> None:
    clock.advance(86400)

    assert sandbox.api("/meetings", token).status_code == 401


def test_a_token_of_a_revoked_user_is_unauthorized(sandbox: Sandbox, token: str) -> None:
    assert sandbox.store.revoke_user("ann@example.com") == 1

    assert sandbox.api("/meetings", token).status_code == 401


def test_a_refresh_token_is_not_an_access_token(sandbox: Sandbox) -> None:
    tokens = sandbox.tokens_for("ann@example.com")

    assert sandbox.api("/profile", tokens["refresh_token"]).status_code == 401


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/meetings", "meetings:read"),
        ("/action-items", "action-items:read"),
        ("/calendar/events", "calendar:read"),
        ("/profile", "profile"),
    ],
)
def test_an_endpoint_without_its_scope_is_forbidden(
    sandbox: Sandbox, path: str, scope: str
) -> None:
    granted = "email meetings:write" if scope != "meetings:read" else "email"
    tokens = sandbox.tokens_for("ann@example.com", scope=granted)

    response = sandbox.api(path, tokens["access_token"])

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert scope in response.headers["www-authenticate"]


def test_profile_is_allowed_with_openid_alone(sandbox: Sandbox) -> None:
    tokens = sandbox.tokens_for("ann@example.com", scope="openid")

    assert sandbox.api("/profile", tokens["access_token"]).status_code == 200


def test_unknown_paths_answer_a_json_not_found(sandbox: Sandbox, token: str) -> None:
    response = sandbox.api("/nothing-here", token)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_user_cannot_read_another_users_meeting(sandbox: Sandbox, token: str) -> None:
    bob = sandbox.tokens_for("bob@example.com")["access_token"]
    bobs_meeting = sandbox.api("/meetings", bob, limit="1").json()["items"][0]

    response = sandbox.api(f"/meetings/{bobs_meeting['id']}", token)

    assert response.status_code == 404


def test_users_see_only_their_own_workspace(sandbox: Sandbox, token: str) -> None:
    bob = sandbox.tokens_for("bob@example.com")["access_token"]

    anns = sandbox.api("/meetings", token, limit="100").json()["items"]
    bobs = sandbox.api("/meetings", bob, limit="100").json()["items"]

    assert {m["workspace_id"] for m in anns} != {m["workspace_id"] for m in bobs}
    assert not {m["id"] for m in anns} & {m["id"] for m in bobs}
    bobs_items = sandbox.api("/action-items", bob, limit="100").json()["items"]
    assert not {i["meeting_id"] for i in bobs_items} & {m["id"] for m in anns}
