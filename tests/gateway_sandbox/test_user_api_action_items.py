"""GET /v1/partner/user/action-items and its filters."""

from __future__ import annotations

import pytest

from tests.gateway_sandbox.driver import Sandbox


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
