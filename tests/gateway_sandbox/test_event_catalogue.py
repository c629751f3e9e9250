"""Every one of Contio's 35 event types, sent on demand with realistic ``data`` and a valid
signature (``POST /_sandbox/events``; reference §6)."""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from typing import Any

import pytest

from gateway_sandbox.state.event_catalogue import EVENT_TYPES, SYSTEM_EVENTS
from tests.gateway_sandbox.driver import Sandbox
from tests.gateway_sandbox.receiver import SECRET, Receiver, settled

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
# The fields the AsyncAPI spec requires of the types the reference details.
REQUIRED = {
    "user.connection.revoked": {"connection_id", "revoked_at"},
    "meeting.created": {"meeting_id", "title", "workspace_id", "created_by_user_id", "created_at"},
    "meeting.updated": {"meeting_id", "title", "workspace_id", "updated_at"},
    "meeting.completed": {"meeting_id", "title", "workspace_id", "completed_at"},
    "action_item.created": {"action_item_id", "meeting_id", "title", "workspace_id", "created_at"},
    "action_item.updated": {
        "action_item_id",
        "meeting_id",
        "workspace_id",
        "status",
        "is_completed",
        "updated_at",
    },
    "action_item.completed": {
        "action_item_id",
        "meeting_id",
        "title",
        "workspace_id",
        "completed_at",
        "completed_by_user_id",
    },
    "agenda_item.created": {"agenda_item_id", "title", "item_type", "created_at"},
    "agenda_item.updated": {"agenda_item_id", "title", "item_type", "status", "updated_at"},
    "agenda_item.deleted": {"agenda_item_id", "deleted_at"},
    "calendar_event.created": {
        "calendar_event_id",
        "title",
        "start_time",
        "end_time",
        "is_all_day",
        "attendee_count",
    },
    "calendar_event.deleted": {"calendar_event_id"},
    "participant.added": {"meeting_id", "workspace_id", "added_at", "participants"},
    "participant.removed": {"meeting_id", "participant_id", "workspace_id", "removed_at"},
    "automation.assignment.created": {
        "assignment_id",
        "automation_id",
        "automation_name",
        "action_item_id",
        "meeting_id",
        "workspace_id",
        "status",
        "created_at",
    },
    "session.turn.completed": {"session_id", "turn_id", "sequence_number", "completed_at"},
    "session.turn.failed": {
        "session_id",
        "turn_id",
        "sequence_number",
        "error_code",
        "error_message",
        "failed_at",
    },
    "session.expired": {"session_id", "expired_at", "last_activity_at", "turn_count"},
    "meeting.context.created": {"context_id", "meeting_id", "workspace_id", "created_at"},
    "meeting.context.processed": {"context_id", "meeting_id", "sanitization_report"},
}


def emit(sandbox: Sandbox, **body: Any) -> Any:
    return sandbox.http.post("/_sandbox/events", json=body)


def check_values(data: dict[str, Any]) -> None:
    """Ids are UUIDs and moments RFC 3339, nested ones included."""
    for name, value in data.items():
        if isinstance(value, dict):
            check_values(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    check_values(item)
        elif value is None:
            continue
        elif name.endswith("_id"):
            assert uuid.UUID(value), name
        elif name.endswith("_at") or name.endswith("_time") or name == "scheduled_start":
            assert RFC3339.fullmatch(value), name


def test_the_catalogue_lists_35_types_by_family(sandbox: Sandbox) -> None:
    listed = sandbox.http.get("/_sandbox/events").json()["event_types"]

    assert [e["event_type"] for e in listed] == list(EVENT_TYPES)
    assert len(listed) == 35
    by_name = {e["event_type"]: e for e in listed}
    assert by_name["meeting.context.processed"]["family"] == "meeting"
    assert [e["event_type"] for e in listed if e["partner_level"]] == [
        "partner.idp.domain_verified",
        "partner.idp.domain_verification_failed",
        "partner.idp.domain_revoked",
    ]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_type_is_sent_signed_with_realistic_data(
    hooked: Sandbox, receiver: Receiver, event_type: str
) -> None:
    ann = hooked.store.sign_in("ann@example.com")
    partner_level = event_type.startswith("partner.")
    body = (
        {"event_type": event_type}
        if partner_level
        else {"event_type": event_type, "user_id": str(ann.id)}
    )

    response = emit(hooked, **body)

    assert response.status_code == 202, response.text
    (delivery,) = settled(hooked)
    assert delivery["delivery_status"] == "delivered"
    headers, raw = receiver.received[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-contio-signature"], expected)
    (event,) = receiver.events()
    assert event == response.json()["event"]
    assert event["event_type"] == event_type
    assert delivery["event_id"] == event["event_id"]
    assert REQUIRED.get(event_type, set()) <= set(event["data"])
    assert event["data"], "no data"
    check_values(event["data"])
    if partner_level:
        assert "for_user" not in event and "actor_user_id" not in event
    else:
        assert event["for_user"] == {"id": str(ann.id), "email": "ann@example.com"}
        assert ("actor_user_id" in event) == (event_type not in SYSTEM_EVENTS)
        if "workspace_id" in event["data"]:
            assert event["data"]["workspace_id"] == str(ann.workspace_id)


def test_the_ids_name_the_users_own_records(hooked: Sandbox, receiver: Receiver) -> None:
    writer = hooked.writer()
    ann = hooked.store.sign_in("ann@example.com")
    for event_type in ("meeting.completed", "action_item.completed", "calendar_event.updated"):
        emit(hooked, event_type=event_type, email="ann@example.com")
    settled(hooked, 3)

    data = {e["event_type"]: e["data"] for e in receiver.events()}

    meeting = hooked.api(f"/meetings/{data['meeting.completed']['meeting_id']}", writer)
    assert meeting.status_code == 200
    assert meeting.json()["title"] == data["meeting.completed"]["title"]
    item_id = data["action_item.completed"]["action_item_id"]
    assert hooked.api(f"/action-items/{item_id}", writer).status_code == 200
    event_id = data["calendar_event.updated"]["calendar_event_id"]
    assert hooked.api(f"/calendar/events/{event_id}", writer).status_code == 200
    revoked = emit(hooked, event_type="user.connection.revoked", user_id=str(ann.id)).json()
    assert revoked["event"]["data"]["connection_id"] == str(hooked.store.connection_id(ann))


def test_given_data_overrides_the_sample(hooked: Sandbox) -> None:
    hooked.store.sign_in("ann@example.com")

    answer = emit(
        hooked, event_type="meeting.completed", email="ann@example.com", data={"title": "Retro"}
    ).json()

    assert answer["event"]["data"]["title"] == "Retro"
    assert "completed_at" in answer["event"]["data"]
    settled(hooked)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"event_type": "meeting.exploded", "email": "ann@example.com"}, 400),
        ({"event_type": "meeting.created"}, 400),
        ({"event_type": "partner.idp.domain_verified", "email": "ann@example.com"}, 400),
        ({"event_type": "meeting.created", "email": "nobody@example.com"}, 404),
        ({"event_type": "meeting.created", "user_id": "not-a-uuid"}, 404),
        ({"event_type": "meeting.created", "email": "ann@example.com", "data": [1]}, 400),
    ],
)
def test_a_bad_request_sends_nothing(hooked: Sandbox, body: dict[str, Any], status: int) -> None:
    hooked.store.sign_in("ann@example.com")

    response = emit(hooked, **body)

    assert response.status_code == status, response.text
    assert hooked.admin("GET", "/webhook-deliveries").json()["total"] == 0


def test_an_unknown_type_is_answered_with_the_valid_ones(sandbox: Sandbox) -> None:
    response = emit(sandbox, event_type="meeting.exploded")

    assert response.json()["valid_event_types"] == list(EVENT_TYPES)


def test_without_a_webhook_url_nothing_is_sent(sandbox: Sandbox) -> None:
    sandbox.store.sign_in("ann@example.com")

    answer = emit(sandbox, event_type="meeting.created", email="ann@example.com")

    assert answer.status_code == 202
    assert answer.json() == {"event": None, "delivery": None}
