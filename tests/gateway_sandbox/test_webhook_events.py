"""Signed webhooks for meeting, participant, agenda item and action item changes (reference §6)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from gateway_sandbox.state.partner_connections import partner_app_id
from tests.gateway_sandbox.driver import Sandbox
from tests.gateway_sandbox.receiver import SECRET, Receiver, settled

ENVELOPE = {
    "event_type",
    "event_id",
    "timestamp",
    "partner_app_id",
    "data",
    "actor_user_id",
    "for_user",
}


def events_after(hooked: Sandbox, receiver: Receiver, count: int) -> list[dict[str, Any]]:
    deliveries = settled(hooked, count)
    assert len(deliveries) == count
    assert {d["delivery_status"] for d in deliveries} == {"delivered"}
    return sorted(
        receiver.events(), key=lambda e: [d["event_id"] for d in deliveries].index(e["event_id"])
    )


def test_creating_a_meeting_sends_a_signed_meeting_created(
    hooked: Sandbox, receiver: Receiver
) -> None:
    writer = hooked.writer()
    ann = hooked.store.user_by_email("ann@example.com")
    assert ann is not None

    meeting = hooked.call("POST", "/meetings", writer, {"title": "Kickoff"}).json()

    (event,) = events_after(hooked, receiver, 1)
    headers, body = receiver.received[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-contio-signature"], expected)
    assert set(event) == ENVELOPE
    assert event["event_type"] == "meeting.created"
    assert event["partner_app_id"] == str(partner_app_id("sandbox-client"))
    assert event["actor_user_id"] == str(ann.id)
    assert event["for_user"] == {"id": str(ann.id), "email": "ann@example.com"}
    assert event["data"] == {
        "meeting_id": meeting["id"],
        "title": "Kickoff",
        "workspace_id": meeting["workspace_id"],
        "created_by_user_id": str(ann.id),
        "created_at": meeting["created_at"],
    }


def test_updating_a_meeting_sends_meeting_updated(hooked: Sandbox, receiver: Receiver) -> None:
    writer = hooked.writer()
    meeting = hooked.call("POST", "/meetings", writer, {"title": "T"}).json()

    hooked.call(
        "PATCH", f"/meetings/{meeting['id']}", writer, {"start_time": "2026-09-01T09:00:00Z"}
    )

    created, updated = events_after(hooked, receiver, 2)
    assert (created["event_type"], updated["event_type"]) == ("meeting.created", "meeting.updated")
    assert set(updated["data"]) == {
        "meeting_id",
        "title",
        "workspace_id",
        "updated_at",
        "scheduled_start",
    }
    assert updated["data"]["scheduled_start"] == "2026-09-01T09:00:00Z"


def test_action_item_changes_send_created_updated_and_completed(
    hooked: Sandbox, receiver: Receiver
) -> None:
    writer = hooked.writer()
    meeting_id = hooked.api("/meetings", writer).json()["items"][0]["id"]
    item = hooked.call(
        "POST", "/action-items", writer, {"meeting_id": meeting_id, "title": "t"}
    ).json()

    hooked.call("PATCH", f"/action-items/{item['id']}", writer, {"status": "completed"})

    created, updated, completed = events_after(hooked, receiver, 3)
    assert [e["event_type"] for e in (created, updated, completed)] == [
        "action_item.created", "action_item.updated", "action_item.completed",
    ]  # fmt: skip
    assert set(created["data"]) == {
        "action_item_id", "meeting_id", "title", "workspace_id", "created_at", "assignee_id"
    }  # fmt: skip
    assert (updated["data"]["status"], updated["data"]["is_completed"]) == ("completed", True)
    assert completed["data"]["completed_by_user_id"] == completed["actor_user_id"]
    assert completed["data"]["completed_at"] == item["created_at"]


def test_participants_and_agenda_items_send_their_events(
    hooked: Sandbox, receiver: Receiver
) -> None:
    writer = hooked.writer()
    meeting = hooked.call("POST", "/meetings", writer, {"title": "T"}).json()
    base = f"/meetings/{meeting['id']}"
    guest = hooked.call(
        "POST",
        f"{base}/participants",
        writer,
        {"email": "g@x.example", "name": "G", "role": "VIEWER"},
    ).json()
    hooked.call("DELETE", f"{base}/participants/{guest['id']}", writer)
    item = hooked.call(
        "POST", f"{base}/agenda-items", writer, {"title": "a", "item_type": "BREAK"}
    ).json()
    hooked.call("PATCH", f"{base}/agenda-items/{item['id']}", writer, {"status": "in_progress"})
    hooked.call("DELETE", f"{base}/agenda-items/{item['id']}", writer)

    events = events_after(hooked, receiver, 6)

    assert [e["event_type"] for e in events] == [
        "meeting.created", "participant.added", "participant.removed", "agenda_item.created",
        "agenda_item.updated", "agenda_item.deleted",
    ]  # fmt: skip
    added = events[1]["data"]
    assert added["participants"] == [
        {
            "participant_id": guest["id"],
            "role": "VIEWER",
            "user_id": None,
            "guest_email": "g@x.example",
        }
    ]
    assert events[4]["data"]["status"] == "in_progress"
    assert set(events[5]["data"]) == {"agenda_item_id", "deleted_at", "meeting_id"}


def test_an_idempotent_replay_sends_no_second_event(hooked: Sandbox, receiver: Receiver) -> None:
    writer = hooked.writer()
    hooked.call("POST", "/meetings", writer, {"title": "T"}, key="k")
    hooked.call("POST", "/meetings", writer, {"title": "T"}, key="k")

    assert len(events_after(hooked, receiver, 1)) == 1


def test_a_meeting_from_a_calendar_event_sends_meeting_created_and_participant_added(
    hooked: Sandbox, receiver: Receiver
) -> None:
    writer = hooked.writer()
    events = hooked.api(
        "/calendar/events", writer, start_date="2000-01-01", end_date="2100-01-01", limit="100"
    ).json()["items"]
    standalone = next(e for e in events if not e["linked_meetings"] and len(e["attendees"]) > 1)

    meeting = hooked.call("POST", f"/calendar/events/{standalone['id']}/meeting", writer).json()

    created, added = events_after(hooked, receiver, 2)
    assert created["event_type"] == "meeting.created"
    assert added["event_type"] == "participant.added"
    assert added["data"]["meeting_id"] == meeting["meeting"]["id"]
    listed = hooked.api(f"/meetings/{meeting['meeting']['id']}/participants", writer).json()
    invited = {p["id"] for p in listed["items"] if p["email"] != "ann@example.com"}
    assert {p["participant_id"] for p in added["data"]["participants"]} == invited


def test_without_a_webhook_url_nothing_is_recorded(sandbox: Sandbox) -> None:
    sandbox.call("POST", "/meetings", sandbox.writer(), {"title": "T"})

    assert sandbox.admin("GET", "/webhook-deliveries").json()["total"] == 0


def test_deliveries_are_filtered_by_event_type(hooked: Sandbox, receiver: Receiver) -> None:
    writer = hooked.writer()
    meeting = hooked.call("POST", "/meetings", writer, {"title": "T"}).json()
    hooked.call("PATCH", f"/meetings/{meeting['id']}", writer, {"title": "U"})
    settled(hooked, 2)

    page = hooked.admin("GET", "/webhook-deliveries", event_type="meeting.updated").json()

    assert page["total"] == 1
    assert page["deliveries"][0]["event_type"] == "meeting.updated"
