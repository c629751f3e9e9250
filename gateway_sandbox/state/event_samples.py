"""Realistic ``data`` for every event type, for events sent on demand (``POST /_sandbox/events``).

Each payload has the fields Contio's AsyncAPI spec requires of its type, and the optional ones it
names. The ids are the user's own where the sandbox holds such a record (their latest meeting, an
action item and an agenda item of it, their first calendar event, their connection), so a receiver
can read the record the event names through the user API; other ids (sessions, workflow runs,
contexts, templates) are fresh UUIDs, as the sandbox has no such records.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from gateway_sandbox.state.content_records import (
    ActionItem,
    AgendaItem,
    CalendarEvent,
    Meeting,
    rfc3339,
    utc,
)
from gateway_sandbox.state.records import User

Data = dict[str, Any]


@dataclass(frozen=True)
class Subject:
    """What a sample event is about: a user's records (``None`` where they have none), or for a
    partner-level event nothing but the partner app."""

    user: User | None = None
    connection_id: UUID | None = None
    meeting: Meeting | None = None
    action_item: ActionItem | None = None
    agenda_item: AgendaItem | None = None
    calendar_event: CalendarEvent | None = None


class _Ids:
    """The ids and values a payload draws on, fresh where the subject has no record."""

    def __init__(self, subject: Subject, now: float) -> None:
        user, meeting = subject.user, subject.meeting
        self.at = rfc3339(now)
        self.user_id = str(user.id) if user else str(uuid.uuid4())
        self.workspace_id = str(user.workspace_id) if user else str(uuid.uuid4())
        self.meeting_id = str(meeting.id) if meeting else str(uuid.uuid4())
        self.meeting_title = meeting.title if meeting else "Weekly sync"
        item = subject.action_item
        self.action_item_id = str(item.id) if item else str(uuid.uuid4())
        self.action_item_title = item.title if item else "Send the notes to the team"
        agenda = subject.agenda_item
        self.agenda_item_id = str(agenda.id) if agenda else str(uuid.uuid4())
        self.agenda_title = agenda.title if agenda else "Roadmap review"
        self.agenda_type = agenda.item_type if agenda else "DISCUSSION"
        self.calendar_event = subject.calendar_event
        self.connection_id = str(subject.connection_id or uuid.uuid4())
        self.now = now

    @staticmethod
    def new() -> str:
        return str(uuid.uuid4())

    def in_meeting(self, **fields: Any) -> Data:
        return {"meeting_id": self.meeting_id, "workspace_id": self.workspace_id, **fields}

    def calendar(self, **fields: Any) -> Data:
        event = self.calendar_event
        start = event.start_time if event else utc(self.now) + timedelta(days=1)
        end = event.end_time if event else start + timedelta(minutes=30)
        attendees = len(event.attendees) if event else 3
        return {
            "calendar_event_id": str(event.id) if event else self.new(),
            "title": event.title if event else "Design review",
            "start_time": rfc3339(start),
            "end_time": rfc3339(end),
            "is_all_day": False,
            "attendee_count": attendees,
            **fields,
        }

    def turn(self, **fields: Any) -> Data:
        return {
            "session_id": self.new(),
            "turn_id": self.new(),
            "sequence_number": 2,
            "completed_at": self.at,
            "meeting_id": self.meeting_id,
            **fields,
        }

    def run(self, **fields: Any) -> Data:
        return {
            "workflow_run_id": self.new(),
            "workflow_template_id": self.new(),
            "workspace_id": self.workspace_id,
            "originating_type": "meeting",
            "originating_id": self.meeting_id,
            **fields,
        }


_BUILDERS: dict[str, Callable[[_Ids], Data]] = {
    "action_button.triggered": lambda i: i.in_meeting(
        action_button_id=i.new(),
        invocation_id=i.new(),
        next_step_id=None,
        triggered_by_user_id=i.user_id,
        triggered_at=i.at,
    ),
    "action_item.created": lambda i: i.in_meeting(
        action_item_id=i.action_item_id,
        title=i.action_item_title,
        created_at=i.at,
        assignee_id=None,
    ),
    "action_item.updated": lambda i: i.in_meeting(
        action_item_id=i.action_item_id,
        status="in_progress",
        is_completed=False,
        updated_at=i.at,
        assignee_id=i.user_id,
    ),
    "action_item.completed": lambda i: i.in_meeting(
        action_item_id=i.action_item_id,
        title=i.action_item_title,
        completed_at=i.at,
        completed_by_user_id=i.user_id,
        assignee_id=i.user_id,
    ),
    "agenda_item.created": lambda i: {
        "agenda_item_id": i.agenda_item_id,
        "title": i.agenda_title,
        "item_type": i.agenda_type,
        "created_at": i.at,
        "meeting_id": i.meeting_id,
    },
    "agenda_item.updated": lambda i: {
        "agenda_item_id": i.agenda_item_id,
        "title": i.agenda_title,
        "item_type": i.agenda_type,
        "status": "in_progress",
        "updated_at": i.at,
        "meeting_id": i.meeting_id,
    },
    "agenda_item.deleted": lambda i: {
        "agenda_item_id": i.agenda_item_id,
        "deleted_at": i.at,
        "meeting_id": i.meeting_id,
    },
    "automation.assignment.created": lambda i: i.in_meeting(
        assignment_id=i.new(),
        automation_id=i.new(),
        automation_name="Route follow-ups to the CRM",
        action_item_id=i.action_item_id,
        status="pending",
        created_at=i.at,
        confidence_score=0.92,
        automation_data_payload={"matched_phrase": "follow up"},
    ),
    "calendar_event.created": lambda i: i.calendar(),
    "calendar_event.updated": lambda i: i.calendar(),
    "calendar_event.deleted": lambda i: {"calendar_event_id": i.calendar()["calendar_event_id"]},
    "canvas_template.applied": lambda i: {
        "canvas_template_id": i.new(),
        "canvas_id": i.new(),
        "workspace_id": i.workspace_id,
        "applied_by_user_id": i.user_id,
        "applied_at": i.at,
    },
    "meeting.created": lambda i: i.in_meeting(
        title=i.meeting_title, created_by_user_id=i.user_id, created_at=i.at
    ),
    "meeting.updated": lambda i: i.in_meeting(
        title=i.meeting_title, updated_at=i.at, scheduled_start=i.calendar()["start_time"]
    ),
    "meeting.completed": lambda i: i.in_meeting(title=i.meeting_title, completed_at=i.at),
    "meeting.context.created": lambda i: i.in_meeting(
        context_id=i.new(), created_at=i.at, title="Account plan"
    ),
    "meeting.context.deleted": lambda i: i.in_meeting(context_id=i.new(), deleted_at=i.at),
    "meeting.context.processed": lambda i: i.in_meeting(
        context_id=i.new(),
        processed_at=i.at,
        sanitization_report={
            "pii_detected": True,
            "secrets_detected": False,
            "formula_escaped": False,
            "redactions": [{"type": "email", "count": 2}],
        },
    ),
    "meeting_template.applied": lambda i: i.in_meeting(
        meeting_template_id=i.new(), application_id=i.new(), applied_items=4, applied_at=i.at
    ),
    "next_step.completed": lambda i: i.in_meeting(
        next_step_id=i.new(),
        result_id=i.new(),
        execution_log_id=i.new(),
        status="completed",
        completed_at=i.at,
    ),
    "participant.added": lambda i: i.in_meeting(
        added_at=i.at,
        participants=[
            {
                "participant_id": i.new(),
                "role": "VIEWER",
                "user_id": None,
                "guest_email": "guest@example.org",
            }
        ],
    ),
    "participant.removed": lambda i: i.in_meeting(
        participant_id=i.new(), removed_at=i.at, user_id=None, guest_email="guest@example.org"
    ),
    "partner.idp.domain_verified": lambda i: {"domain": "example.com", "verified_at": i.at},
    "partner.idp.domain_verification_failed": lambda i: {
        "domain": "example.com",
        "failed_at": i.at,
        "reason": "The TXT record _contio-challenge.example.com was not found.",
    },
    "partner.idp.domain_revoked": lambda i: {"domain": "example.com", "revoked_at": i.at},
    "session.turn.completed": lambda i: i.turn(),
    "session.turn.failed": lambda i: i.turn(
        error_code="timeout", error_message="The agent did not answer in time.", failed_at=i.at
    ),
    "session.expired": lambda i: {
        "session_id": i.new(),
        "expired_at": i.at,
        "last_activity_at": rfc3339(i.now - 1800),
        "turn_count": 4,
        "meeting_id": i.meeting_id,
    },
    "user.connection.revoked": lambda i: {"connection_id": i.connection_id, "revoked_at": i.at},
    "workflow.run.started": lambda i: i.run(status="active", started_at=i.at),
    "workflow.run.completed": lambda i: i.run(status="completed", completed_at=i.at),
    "workflow.run.failed": lambda i: i.run(
        status="failed", failed_at=i.at, error_message="A step's integration refused the call."
    ),
    "workflow.step.completed": lambda i: i.run(step_id=i.new(), completed_at=i.at),
    "workflow.task.created": lambda i: i.run(
        task_id=i.new(), step_id=i.new(), assignee_user_id=i.user_id, created_at=i.at
    ),
    "workflow.task.resolved": lambda i: i.run(
        task_id=i.new(), resolved_by_user_id=i.user_id, resolution="approved", resolved_at=i.at
    ),
}


def sample(event_type: str, subject: Subject, now: float) -> Data:
    """The ``data`` of one ``event_type`` event about ``subject``; KeyError for an unknown type."""
    return _BUILDERS[event_type](_Ids(subject, now))
