"""/v1/partner/user/meetings/{id}/agenda-items: list, create, update, delete (reference §4)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway_sandbox.driver import Sandbox


@pytest.fixture
def writer(sandbox: Sandbox) -> str:
    return sandbox.writer()


@pytest.fixture
def agenda(sandbox: Sandbox, writer: str) -> str:
    """The agenda-items path of a new meeting of ann's."""
    meeting = sandbox.call("POST", "/meetings", writer, {"title": "M"}).json()
    return f"/meetings/{meeting['id']}/agenda-items"


def test_an_agenda_item_has_the_documented_fields(
    sandbox: Sandbox, writer: str, agenda: str
) -> None:
    response = sandbox.call(
        "POST",
        agenda,
        writer,
        {"title": "Intro", "item_type": "DISCUSSION", "time_allocation_minutes": 10},
    )

    assert response.status_code == 201
    item = response.json()
    assert set(item) == {
        "id", "meeting_id", "title", "description", "item_type", "status", "sequence",
        "time_allocation_minutes", "talking_points", "presenters", "presenter_details",
        "created_at", "updated_at",
    }  # fmt: skip
    assert (item["status"], item["sequence"], item["time_allocation_minutes"]) == (
        "pending",
        "1",
        10,
    )


def test_items_without_a_sequence_are_appended(sandbox: Sandbox, writer: str, agenda: str) -> None:
    for title in ("a", "b"):
        sandbox.call("POST", agenda, writer, {"title": title, "item_type": "DISCUSSION"})
    sandbox.call(
        "POST", agenda, writer, {"title": "between", "item_type": "BREAK", "sequence": "1.5"}
    )

    items = sandbox.api(agenda, writer).json()["items"]

    assert [(i["title"], i["sequence"]) for i in items] == [
        ("a", "1"),
        ("between", "1.5"),
        ("b", "2"),
    ]
    added = sandbox.call("POST", agenda, writer, {"title": "c", "item_type": "ADJOURN"}).json()
    assert added["sequence"] == "3"


def test_presenters_must_be_workspace_users_and_are_detailed(sandbox: Sandbox) -> None:
    owner = sandbox.writer("olivia@acme.example")
    mia = sandbox.store.user_by_email("mia@acme.example")
    assert mia is not None
    meeting = sandbox.call("POST", "/meetings", owner, {"title": "M"}).json()
    path = f"/meetings/{meeting['id']}/agenda-items"

    item = sandbox.call(
        "POST", path, owner, {"title": "t", "item_type": "DISCUSSION", "presenters": [str(mia.id)]}
    ).json()
    stranger = sandbox.call(
        "POST",
        path,
        owner,
        {
            "title": "t",
            "item_type": "DISCUSSION",
            "presenters": ["00000000-0000-4000-8000-000000000000"],
        },
    )

    assert item["presenters"] == [str(mia.id)]
    assert item["presenter_details"] == [
        {"user_id": str(mia.id), "name": "Mia Member", "email": "mia@acme.example"}
    ]
    assert stranger.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"item_type": "DISCUSSION"},
        {"title": "t"},
        {"title": "t", "item_type": "CHAT"},
        {"title": "t", "item_type": "BREAK", "sequence": "first"},
        {"title": "t", "item_type": "BREAK", "time_allocation_minutes": -5},
        {"title": "t", "item_type": "BREAK", "presenters": "everyone"},
    ],
)
def test_bad_agenda_items_are_400(
    sandbox: Sandbox, writer: str, agenda: str, body: dict[str, Any]
) -> None:
    response = sandbox.call("POST", agenda, writer, body)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_an_agenda_item_is_updated_by_patch_or_the_deprecated_put(
    sandbox: Sandbox, writer: str, agenda: str, method: str
) -> None:
    item = sandbox.call("POST", agenda, writer, {"title": "t", "item_type": "DISCUSSION"}).json()

    response = sandbox.call(
        method, f"{agenda}/{item['id']}", writer, {"status": "completed", "title": "T"}
    )

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["title"]) == ("completed", "T")
    assert response.json()["item_type"] == "DISCUSSION"


def test_an_unknown_status_is_invalid_status(sandbox: Sandbox, writer: str, agenda: str) -> None:
    item = sandbox.call("POST", agenda, writer, {"title": "t", "item_type": "DISCUSSION"}).json()

    response = sandbox.call("PATCH", f"{agenda}/{item['id']}", writer, {"status": "done"})

    assert response.json()["code"] == "invalid_status"


def test_an_agenda_item_is_deleted_with_204(sandbox: Sandbox, writer: str, agenda: str) -> None:
    item = sandbox.call("POST", agenda, writer, {"title": "t", "item_type": "DISCUSSION"}).json()

    assert sandbox.call("DELETE", f"{agenda}/{item['id']}", writer).status_code == 204
    assert sandbox.api(agenda, writer).json()["total"] == 0
    assert sandbox.call("DELETE", f"{agenda}/{item['id']}", writer).status_code == 404


def test_only_participants_change_the_agenda(sandbox: Sandbox) -> None:
    owner = sandbox.writer("olivia@acme.example")
    member = sandbox.writer("mia@acme.example")
    meeting = sandbox.call("POST", "/meetings", owner, {"title": "M"}).json()
    path = f"/meetings/{meeting['id']}/agenda-items"

    refused = sandbox.call("POST", path, member, {"title": "t", "item_type": "DISCUSSION"})
    sandbox.call(
        "POST",
        f"/meetings/{meeting['id']}/participants",
        owner,
        {"email": "mia@acme.example", "name": "Mia", "role": "VIEWER"},
    )
    allowed = sandbox.call("POST", path, member, {"title": "t", "item_type": "DISCUSSION"})

    assert refused.status_code == 403
    assert allowed.status_code == 201
