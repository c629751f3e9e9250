"""GET /v1/partner/user/meetings and /meetings/{id}, with pagination and date filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.gateway_sandbox.driver import FakeClock, Sandbox


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
