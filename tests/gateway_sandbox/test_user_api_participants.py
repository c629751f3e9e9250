"""/v1/partner/user/meetings/{id}/participants: list, add, remove (reference §4)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway_sandbox.driver import Sandbox


@pytest.fixture
def writer(sandbox: Sandbox) -> str:
    return sandbox.writer()


@pytest.fixture
def meeting(sandbox: Sandbox, writer: str) -> dict[str, Any]:
    created: dict[str, Any] = sandbox.call("POST", "/meetings", writer, {"title": "M"}).json()
    return created


GUEST = {"email": "guest@elsewhere.example", "name": "Gia Guest", "role": "VIEWER"}


def test_a_participant_is_added_with_the_documented_fields(
    sandbox: Sandbox, writer: str, meeting: dict[str, Any]
) -> None:
    response = sandbox.call("POST", f"/meetings/{meeting['id']}/participants", writer, GUEST)

    assert response.status_code == 201
    participant = response.json()
    assert set(participant) == {
        "id", "meeting_id", "user_id", "email", "name", "role", "is_attended", "created_at",
        "updated_at",
    }  # fmt: skip
    assert participant["meeting_id"] == meeting["id"]
    assert participant["user_id"] is None  # a guest
    assert (participant["role"], participant["is_attended"]) == ("VIEWER", False)
    listed = sandbox.api(f"/meetings/{meeting['id']}/participants", writer).json()
    assert listed["total"] == 2
    assert participant in listed["items"]


def test_a_workspace_user_is_linked_by_user_id(sandbox: Sandbox) -> None:
    owner = sandbox.writer("olivia@acme.example")
    meeting = sandbox.call("POST", "/meetings", owner, {"title": "M"}).json()
    mia = sandbox.store.user_by_email("mia@acme.example")
    assert mia is not None

    added = sandbox.call(
        "POST",
        f"/meetings/{meeting['id']}/participants",
        owner,
        {"email": "MIA@acme.example", "name": "Mia", "role": "EDITOR"},
    ).json()

    assert added["user_id"] == str(mia.id)
    assert added["email"] == "mia@acme.example"


def test_adding_someone_twice_is_409(
    sandbox: Sandbox, writer: str, meeting: dict[str, Any]
) -> None:
    sandbox.call("POST", f"/meetings/{meeting['id']}/participants", writer, GUEST)

    response = sandbox.call("POST", f"/meetings/{meeting['id']}/participants", writer, GUEST)

    assert response.status_code == 409
    assert response.json()["code"] == "resource_already_exists"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "N", "role": "VIEWER"},
        {"email": "x@example.com", "role": "VIEWER"},
        {"email": "x@example.com", "name": "N"},
        {"email": "x@example.com", "name": "N", "role": "OWNER"},
        {"email": "nope", "name": "N", "role": "VIEWER"},
    ],
)
def test_bad_participants_are_400(
    sandbox: Sandbox, writer: str, meeting: dict[str, Any], body: dict[str, str]
) -> None:
    response = sandbox.call("POST", f"/meetings/{meeting['id']}/participants", writer, body)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


def test_only_editors_add_participants(sandbox: Sandbox) -> None:
    owner = sandbox.writer("olivia@acme.example")
    member = sandbox.writer("mia@acme.example")
    meeting = sandbox.call("POST", "/meetings", owner, {"title": "M"}).json()
    path = f"/meetings/{meeting['id']}/participants"
    sandbox.call(
        "POST", path, owner, {"email": "mia@acme.example", "name": "Mia", "role": "VIEWER"}
    )

    response = sandbox.call("POST", path, member, GUEST)

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_a_participant_is_removed_with_204(
    sandbox: Sandbox, writer: str, meeting: dict[str, Any]
) -> None:
    added = sandbox.call("POST", f"/meetings/{meeting['id']}/participants", writer, GUEST).json()

    response = sandbox.call(
        "DELETE", f"/meetings/{meeting['id']}/participants/{added['id']}", writer
    )

    assert response.status_code == 204
    assert sandbox.api(f"/meetings/{meeting['id']}/participants", writer).json()["total"] == 1
    again = sandbox.call("DELETE", f"/meetings/{meeting['id']}/participants/{added['id']}", writer)
    assert again.status_code == 404


def test_sample_meetings_list_the_owner_and_the_events_guests(
    sandbox: Sandbox, writer: str
) -> None:
    linked = next(
        m
        for m in sandbox.api("/meetings", writer, limit="100").json()["items"]
        if m["calendar_event_id"]
    )

    people = sandbox.api(f"/meetings/{linked['id']}/participants", writer).json()["items"]

    assert people[0]["email"] == "ann@example.com" and people[0]["role"] == "EDITOR"
    assert len(people) >= 2
    assert {p["role"] for p in people[1:]} == {"VIEWER"}
