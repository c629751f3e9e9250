"""POST and PATCH /v1/partner/user/meetings (reference §4)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.gateway_sandbox.driver import FakeClock, Sandbox

START, END = "2026-09-01T09:00:00Z", "2026-09-01T10:00:00Z"


@pytest.fixture
def writer(sandbox: Sandbox) -> str:
    return sandbox.writer()


def test_a_meeting_with_times_is_created_scheduled(sandbox: Sandbox, writer: str) -> None:
    response = sandbox.call(
        "POST", "/meetings", writer, {"title": "Kickoff", "start_time": START, "end_time": END}
    )

    assert response.status_code == 201
    meeting = response.json()
    assert meeting["title"] == "Kickoff"
    assert (meeting["start_time"], meeting["end_time"]) == (START, END)
    assert meeting["status"] == "scheduled"
    ann = sandbox.store.user_by_email("ann@example.com")
    assert ann is not None
    assert meeting["created_by_user_id"] == str(ann.id)
    assert meeting["workspace_id"] == str(ann.workspace_id)
    assert sandbox.api(f"/meetings/{meeting['id']}", writer).json() == meeting


def test_a_meeting_without_times_is_a_draft(sandbox: Sandbox, writer: str) -> None:
    meeting = sandbox.call("POST", "/meetings", writer, {"title": "Someday"}).json()

    assert (meeting["status"], meeting["start_time"], meeting["end_time"]) == ("draft", None, None)


def test_an_instant_meeting_starts_now(sandbox: Sandbox, writer: str, clock: FakeClock) -> None:
    meeting = sandbox.call("POST", "/meetings", writer, {"title": "Now", "is_instant": True}).json()

    assert meeting["status"] == "in_progress"
    assert meeting["start_time"] == meeting["created_at"]


def test_a_start_alone_makes_a_thirty_minute_meeting(sandbox: Sandbox, writer: str) -> None:
    meeting = sandbox.call("POST", "/meetings", writer, {"title": "T", "start_time": START}).json()

    assert meeting["end_time"] == "2026-09-01T09:30:00Z"


def test_the_creator_is_an_editor_participant(sandbox: Sandbox, writer: str) -> None:
    meeting = sandbox.call("POST", "/meetings", writer, {"title": "T"}).json()

    (participant,) = sandbox.api(f"/meetings/{meeting['id']}/participants", writer).json()["items"]

    assert (participant["email"], participant["role"]) == ("ann@example.com", "EDITOR")


def test_created_meetings_join_the_list(sandbox: Sandbox, writer: str) -> None:
    sandbox.call("POST", "/meetings", writer, {"title": "T"})

    assert sandbox.api("/meetings", writer).json()["total"] == 31


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "invalid_request"),
        ({"title": ""}, "invalid_request"),
        ({"title": 7}, "invalid_request"),
        ({"title": "T", "start_time": "tomorrow"}, "invalid_start_time"),
        ({"title": "T", "start_time": "2026-09-01T09:00:00"}, "invalid_start_time"),
        ({"title": "T", "start_time": START, "end_time": "soon"}, "invalid_end_time"),
        ({"title": "T", "start_time": END, "end_time": START}, "invalid_time_range"),
        ({"title": "T", "end_time": END}, "invalid_start_time"),
        ({"title": "T", "detail_level": "EVERYTHING"}, "invalid_request"),
        ({"title": "T", "template_id": "x"}, "invalid_request"),
        ({"title": "T", "is_instant": "yes"}, "invalid_request"),
    ],
)
def test_bad_meetings_are_400(
    sandbox: Sandbox, writer: str, body: dict[str, Any], code: str
) -> None:
    response = sandbox.call("POST", "/meetings", writer, body)

    assert response.status_code == 400
    assert response.json()["code"] == code


def test_a_body_that_is_not_a_json_object_is_invalid_request_body(
    sandbox: Sandbox, writer: str
) -> None:
    response = sandbox.http.post(
        "/v1/partner/user/meetings",
        content=b"[1, 2",
        headers={"Authorization": f"Bearer {writer}", "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request_body"


def test_creating_needs_meetings_write(sandbox: Sandbox, token: str) -> None:
    response = sandbox.call("POST", "/meetings", token, {"title": "T"})

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_patch_changes_only_the_fields_sent(
    sandbox: Sandbox, writer: str, clock: FakeClock
) -> None:
    created = sandbox.call(
        "POST", "/meetings", writer, {"title": "Old", "start_time": START, "end_time": END}
    ).json()
    clock.advance(60)

    response = sandbox.call("PATCH", f"/meetings/{created['id']}", writer, {"title": "New"})

    assert response.status_code == 200
    updated = response.json()
    assert updated["title"] == "New"
    assert (updated["start_time"], updated["end_time"]) == (START, END)
    assert updated["updated_at"] > created["updated_at"]


def test_a_draft_given_times_is_scheduled(sandbox: Sandbox, writer: str) -> None:
    draft = sandbox.call("POST", "/meetings", writer, {"title": "D"}).json()

    updated = sandbox.call(
        "PATCH", f"/meetings/{draft['id']}", writer, {"start_time": START, "end_time": END}
    ).json()

    assert updated["status"] == "scheduled"


def test_patch_checks_the_time_range_against_the_stored_times(
    sandbox: Sandbox, writer: str
) -> None:
    created = sandbox.call(
        "POST", "/meetings", writer, {"title": "T", "start_time": START, "end_time": END}
    ).json()

    response = sandbox.call(
        "PATCH", f"/meetings/{created['id']}", writer, {"end_time": "2026-09-01T08:00:00Z"}
    )

    assert response.json()["code"] == "invalid_time_range"


def test_patching_an_unknown_meeting_is_404(sandbox: Sandbox, writer: str) -> None:
    response = sandbox.call(
        "PATCH", "/meetings/00000000-0000-4000-8000-000000000000", writer, {"title": "x"}
    )

    assert response.status_code == 404


def test_a_member_who_is_not_an_editor_cannot_patch(sandbox: Sandbox) -> None:
    owner = sandbox.writer("olivia@acme.example")
    member = sandbox.writer("mia@acme.example")
    meeting = sandbox.call("POST", "/meetings", owner, {"title": "Owner's"}).json()

    response = sandbox.call("PATCH", f"/meetings/{meeting['id']}", member, {"title": "Mine"})

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_a_workspace_admin_may_patch_any_meeting(sandbox: Sandbox) -> None:
    member = sandbox.writer("mia@acme.example")
    admin = sandbox.writer("adam@acme.example")
    meeting = sandbox.call("POST", "/meetings", member, {"title": "Mia's"}).json()

    assert (
        sandbox.call("PATCH", f"/meetings/{meeting['id']}", admin, {"title": "x"}).status_code
        == 200
    )


def test_a_merged_meeting_reads_as_its_redirect_only(sandbox: Sandbox, writer: str) -> None:
    ann = sandbox.store.user_by_email("ann@example.com")
    assert ann is not None
    content = sandbox.store.content(ann.workspace_id)
    first, second = content.meetings()[:2]
    content.put_meeting(replace(first, redirect_to_meeting_id=second.id))

    assert sandbox.api(f"/meetings/{first.id}", writer).json() == {
        "redirect_to_meeting_id": str(second.id)
    }
