"""GET one, POST, PUT/PATCH and DELETE /v1/partner/user/action-items, and the date filters."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway_sandbox.driver import Sandbox


@pytest.fixture
def writer(sandbox: Sandbox) -> str:
    return sandbox.writer()


@pytest.fixture
def meeting_id(sandbox: Sandbox, writer: str) -> str:
    value: str = sandbox.api("/meetings", writer).json()["items"][0]["id"]
    return value


def create(sandbox: Sandbox, token: str, meeting_id: str, **fields: Any) -> Any:
    return sandbox.call(
        "POST", "/action-items", token, {"meeting_id": meeting_id, "title": "Do it", **fields}
    )


def test_an_action_item_is_created_and_read_back(
    sandbox: Sandbox, writer: str, meeting_id: str
) -> None:
    response = create(sandbox, writer, meeting_id, due_date="2026-10-01", description="Soon")

    assert response.status_code == 201
    item = response.json()
    assert set(item) == {
        "id", "meeting_id", "assigned_to_user_id", "title", "description", "status",
        "is_completed", "due_date", "completed_at", "has_partner_assignment", "partner_context",
        "created_at", "updated_at",
    }  # fmt: skip
    assert (item["title"], item["due_date"], item["status"]) == (
        "Do it",
        "2026-10-01",
        "needs_review",
    )
    assert (item["is_completed"], item["has_partner_assignment"]) == (False, False)
    assert sandbox.api(f"/action-items/{item['id']}", writer).json() == item


def test_a_partner_context_marks_a_partner_assignment(
    sandbox: Sandbox, writer: str, meeting_id: str
) -> None:
    item = create(sandbox, writer, meeting_id, partner_context={"ticket": "OPS-1"}).json()

    assert item["has_partner_assignment"] is True
    assert item["partner_context"] == {"ticket": "OPS-1"}
    assigned = sandbox.api("/action-items", writer, has_partner_assignment="true").json()
    assert [i["id"] for i in assigned["items"]] == [item["id"]]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"due_date": "next week"}, "invalid_due_date"),
        ({"due_date": "2026-10-01T00:00:00Z"}, "invalid_due_date"),
        ({"status": "done"}, "invalid_status"),
        ({"partner_context": "x"}, "invalid_request"),
        ({"title": ""}, "invalid_request"),
    ],
)
def test_bad_action_items_are_400(
    sandbox: Sandbox, writer: str, meeting_id: str, fields: dict[str, Any], code: str
) -> None:
    response = create(sandbox, writer, meeting_id, **fields)

    assert response.status_code == 400
    assert response.json()["code"] == code


def test_the_meeting_must_be_given_and_exist(sandbox: Sandbox, writer: str) -> None:
    missing = sandbox.call("POST", "/action-items", writer, {"title": "t"})
    malformed = create(sandbox, writer, "42")
    unknown = create(sandbox, writer, "00000000-0000-4000-8000-000000000000")

    assert (missing.status_code, missing.json()["code"]) == (400, "invalid_request")
    assert (malformed.status_code, malformed.json()["code"]) == (400, "invalid_meeting_id")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_completing_sets_status_flag_and_time(
    sandbox: Sandbox, writer: str, meeting_id: str, method: str
) -> None:
    item = create(sandbox, writer, meeting_id).json()

    done = sandbox.call(
        method, f"/action-items/{item['id']}", writer, {"is_completed": True}
    ).json()

    assert (done["status"], done["is_completed"]) == ("completed", True)
    assert done["completed_at"] is not None


def test_reopening_a_completed_item_makes_it_accepted(
    sandbox: Sandbox, writer: str, meeting_id: str
) -> None:
    item = create(sandbox, writer, meeting_id, status="completed").json()
    assert item["is_completed"] is True

    reopened = sandbox.call(
        "PATCH", f"/action-items/{item['id']}", writer, {"is_completed": False}
    ).json()

    assert (reopened["status"], reopened["is_completed"], reopened["completed_at"]) == (
        "accepted",
        False,
        None,
    )


def test_contradicting_status_and_flag_is_400(
    sandbox: Sandbox, writer: str, meeting_id: str
) -> None:
    item = create(sandbox, writer, meeting_id).json()

    response = sandbox.call(
        "PATCH",
        f"/action-items/{item['id']}",
        writer,
        {"status": "completed", "is_completed": False},
    )

    assert response.status_code == 400


def test_an_update_keeps_what_was_not_sent(sandbox: Sandbox, writer: str, meeting_id: str) -> None:
    item = create(sandbox, writer, meeting_id, due_date="2026-10-01").json()

    updated = sandbox.call("PATCH", f"/action-items/{item['id']}", writer, {"title": "New"}).json()

    assert (updated["title"], updated["due_date"], updated["status"]) == (
        "New",
        "2026-10-01",
        "needs_review",
    )


def test_an_action_item_is_deleted_with_204(sandbox: Sandbox, writer: str, meeting_id: str) -> None:
    item = create(sandbox, writer, meeting_id).json()

    assert sandbox.call("DELETE", f"/action-items/{item['id']}", writer).status_code == 204
    assert sandbox.api(f"/action-items/{item['id']}", writer).status_code == 404


def test_a_non_uuid_action_item_id_is_invalid_action_item_id(sandbox: Sandbox, writer: str) -> None:
    response = sandbox.api("/action-items/xyz", writer)

    assert (response.status_code, response.json()["code"]) == (400, "invalid_action_item_id")


def test_writing_needs_action_items_write(sandbox: Sandbox, token: str, meeting_id: str) -> None:
    assert create(sandbox, token, meeting_id).status_code == 403


def test_action_items_are_filtered_by_creation_date(
    sandbox: Sandbox, writer: str, meeting_id: str
) -> None:
    # Sample items date from meetings before the account's first day; this one is from now.
    item = create(sandbox, writer, meeting_id).json()

    page = sandbox.api("/action-items", writer, start_date=item["created_at"]).json()
    before = sandbox.api("/action-items", writer, end_date="2000-01-01").json()

    assert [i["id"] for i in page["items"]] == [item["id"]]
    assert before["total"] == 0
    assert (
        sandbox.api("/action-items", writer, start_date="soon").json()["code"]
        == "invalid_start_date"
    )
