"""Sample data generation, tested without HTTP: it is a pure function of the user."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from gateway_sandbox.state.content_records import Meeting
from gateway_sandbox.state.records import User
from gateway_sandbox.state.sample_data import generate

ANN = User(
    id=uuid.UUID("11111111-1111-4111-8111-111111111111"),
    email="ann@example.com",
    name="Ann",
    created_at=1_790_000_000.0,
    workspace_id=uuid.UUID("22222222-2222-4222-8222-222222222222"),
    workspace_role="WORKSPACE_OWNER",
    plan_type="PRO",
    timezone="UTC",
    locale="en-US",
)


def times(meeting: Meeting) -> tuple[datetime, datetime]:
    """A generated meeting's start and end (only drafts made through the API have none)."""
    assert meeting.start_time is not None and meeting.end_time is not None
    return meeting.start_time, meeting.end_time


def test_the_same_user_always_gets_the_same_data() -> None:
    assert generate(ANN) == generate(ANN)


def test_different_users_get_different_data() -> None:
    bob = replace(ANN, id=uuid.UUID("33333333-3333-4333-8333-333333333333"))

    assert {m.title for m in generate(ANN).meetings} != {m.title for m in generate(bob).meetings}


def test_thirty_meetings_in_the_users_workspace() -> None:
    meetings = generate(ANN).meetings

    assert len(meetings) == 30
    assert {m.workspace_id for m in meetings} == {ANN.workspace_id}
    assert all(times(m)[0] < times(m)[1] for m in meetings)
    assert all(m.created_at <= times(m)[0] for m in meetings)


def test_past_meetings_are_done_and_future_ones_are_not() -> None:
    for meeting in generate(ANN).meetings:
        start, end = times(meeting)
        if end.timestamp() < ANN.created_at - 86400:
            assert meeting.status in {"completed", "ended"}
        if start.timestamp() > ANN.created_at + 86400:
            assert meeting.status in {"scheduled", "draft"}


def test_completed_action_items_say_when() -> None:
    items = generate(ANN).action_items

    assert any(item.is_completed for item in items)
    for item in items:
        assert (item.completed_at is not None) == item.is_completed == (item.status == "completed")


def test_linked_calendar_events_point_back_at_their_meeting() -> None:
    data = generate(ANN)
    events = {event.id: event for event in data.calendar_events}

    linked = [m for m in data.meetings if m.calendar_event_id is not None]

    assert linked
    for meeting in linked:
        assert events[meeting.calendar_event_id].meeting_id == meeting.id  # type: ignore[index]
