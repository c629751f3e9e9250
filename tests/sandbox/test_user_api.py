from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.sandbox.driver import FakeClock, Sandbox

MEETINGS_ONLY = "meetings:read"


@pytest.fixture
def token(sandbox: Sandbox) -> str:
    access_token: str = sandbox.tokens_for("ann@example.com")["access_token"]
    return access_token


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


def test_meetings_are_paginated_25_at_a_time_by_default(sandbox: Sandbox, token: str) -> None:
    page = sandbox.api("/meetings", token).json()

    assert page["total"] == 30
    assert page["limit"] == 25
    assert page["offset"] == 0
    assert len(page["items"]) == 25


def test_meetings_pages_follow_limit_and_offset(sandbox: Sandbox, token: str) -> None:
    everything = sandbox.api("/meetings", token, limit="100").json()["items"]

    page = sandbox.api("/meetings", token, limit="10", offset="25").json()

    assert page["total"] == 30
    assert page["limit"] == 10
    assert page["offset"] == 25
    assert page["items"] == everything[25:]


def test_an_offset_past_the_end_gives_an_empty_page(sandbox: Sandbox, token: str) -> None:
    page = sandbox.api("/meetings", token, offset="500").json()

    assert page["items"] == []
    assert page["total"] == 30


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "-1"},
        {"limit": "ten"},
        {"limit": "2.5"},
        {"offset": "-1"},
        {"offset": "x"},
    ],
)
def test_invalid_pagination_is_a_400(sandbox: Sandbox, token: str, params: dict[str, str]) -> None:
    response = sandbox.api("/meetings", token, **params)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_query_parameters"


def test_a_meeting_has_the_documented_fields(sandbox: Sandbox, token: str) -> None:
    meeting = sandbox.api("/meetings", token, limit="1").json()["items"][0]

    assert set(meeting) == {
        "id", "title", "summary_notes", "start_time", "end_time", "status", "workspace_id",
        "created_by_user_id", "calendar_event_id", "created_at", "updated_at",
        "redirect_to_meeting_id",
    }  # fmt: skip
    assert meeting["status"] in {"draft", "scheduled", "in_progress", "ended", "completed"}


def test_meetings_are_spread_over_past_and_coming_weeks(
    sandbox: Sandbox, token: str, clock: FakeClock
) -> None:
    now = datetime.fromtimestamp(clock.now, UTC)

    items = sandbox.api("/meetings", token, limit="100").json()["items"]

    starts = [datetime.fromisoformat(m["start_time"]) for m in items]
    assert any(start < now - timedelta(days=7) for start in starts)
    assert any(start > now + timedelta(days=3) for start in starts)


def test_meetings_can_be_filtered_by_start_and_end_date(
    sandbox: Sandbox, token: str, clock: FakeClock
) -> None:
    end = datetime.fromtimestamp(clock.now, UTC)
    start = end - timedelta(days=7)

    page = sandbox.api(
        "/meetings", token, limit="100", start_date=start.isoformat(), end_date=end.isoformat()
    ).json()

    assert 0 < page["total"] < 30
    assert page["total"] == len(page["items"])
    for meeting in page["items"]:
        assert start <= datetime.fromisoformat(meeting["start_time"]) <= end


def test_a_date_only_filter_is_accepted(sandbox: Sandbox, token: str) -> None:
    assert sandbox.api("/meetings", token, start_date="2020-01-01").json()["total"] == 30


@pytest.mark.parametrize("name", ["start_date", "end_date"])
def test_an_unreadable_date_filter_is_a_400_naming_it(
    sandbox: Sandbox, token: str, name: str
) -> None:
    response = sandbox.api("/meetings", token, **{name: "last tuesday"})

    assert response.status_code == 400
    assert response.json()["code"] == f"invalid_{name}"


def test_a_meeting_can_be_read_by_id(sandbox: Sandbox, token: str) -> None:
    listed = sandbox.api("/meetings", token, limit="1").json()["items"][0]

    response = sandbox.api(f"/meetings/{listed['id']}", token)

    assert response.status_code == 200
    assert response.json() == listed


def test_a_non_uuid_meeting_id_is_invalid_meeting_id(sandbox: Sandbox, token: str) -> None:
    response = sandbox.api("/meetings/not-a-uuid", token)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_meeting_id"


def test_an_unknown_meeting_is_not_found(sandbox: Sandbox, token: str) -> None:
    response = sandbox.api("/meetings/00000000-0000-4000-8000-000000000000", token)

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


def test_action_items_are_paginated(sandbox: Sandbox, token: str) -> None:
    page = sandbox.api("/action-items", token, limit="5", offset="1").json()

    assert page["limit"] == 5
    assert page["offset"] == 1
    assert len(page["items"]) == 5
    assert page["total"] > 6


def test_action_items_belong_to_the_users_meetings(sandbox: Sandbox, token: str) -> None:
    meetings = {m["id"] for m in sandbox.api("/meetings", token, limit="100").json()["items"]}

    items = sandbox.api("/action-items", token, limit="100").json()["items"]

    assert {item["meeting_id"] for item in items} <= meetings


def test_action_items_can_be_filtered_by_meeting(sandbox: Sandbox, token: str) -> None:
    meeting_id = sandbox.api("/action-items", token).json()["items"][0]["meeting_id"]

    page = sandbox.api("/action-items", token, meeting_id=meeting_id).json()

    assert page["total"] >= 1
    assert {item["meeting_id"] for item in page["items"]} == {meeting_id}


@pytest.mark.parametrize("completed", ["true", "false"])
def test_action_items_can_be_filtered_by_completion(
    sandbox: Sandbox, token: str, completed: str
) -> None:
    page = sandbox.api("/action-items", token, limit="100", is_completed=completed).json()

    assert page["total"] >= 1
    assert {item["is_completed"] for item in page["items"]} == {completed == "true"}


def test_an_unreadable_is_completed_is_a_400(sandbox: Sandbox, token: str) -> None:
    response = sandbox.api("/action-items", token, is_completed="maybe")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_query_parameters"


def test_a_non_uuid_meeting_filter_is_invalid_meeting_id(sandbox: Sandbox, token: str) -> None:
    response = sandbox.api("/action-items", token, meeting_id="42")

    assert response.json()["code"] == "invalid_meeting_id"


def test_calendar_events_need_a_date_range(sandbox: Sandbox, token: str) -> None:
    response = sandbox.api("/calendar/events", token, end_date="2030-01-01")

    assert response.status_code == 400
    assert response.json()["code"] == "missing_start_date"


def test_calendar_events_in_a_range_can_be_listed_and_read(sandbox: Sandbox, token: str) -> None:
    page = sandbox.api(
        "/calendar/events", token, start_date="2000-01-01", end_date="2100-01-01"
    ).json()
    event = page["items"][0]

    assert page["total"] > 0
    assert sandbox.api(f"/calendar/events/{event['id']}", token).json() == event


def test_unknown_paths_answer_a_json_not_found(sandbox: Sandbox, token: str) -> None:
    response = sandbox.api("/nothing-here", token)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
