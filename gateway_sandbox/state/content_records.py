"""The user API's resources, with exactly the fields Contio documents, and their JSON.

Records are immutable; a change makes a new one with ``dataclasses.replace``. Times are aware UTC
``datetime``s and render as RFC 3339 to the second.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

MEETING_STATUSES = ("draft", "scheduled", "in_progress", "ended", "completed")
ACTION_ITEM_STATUSES = (
    "needs_review",
    "accepted",
    "in_progress",
    "blocked",
    "completed",
    "cancelled",
)
PARTICIPANT_ROLES = ("EDITOR", "VIEWER")
AGENDA_ITEM_TYPES = ("DISCUSSION", "QUESTIONS_TO_ANSWER", "BREAK", "ADJOURN")
AGENDA_ITEM_STATUSES = ("pending", "in_progress", "completed")


@dataclass(frozen=True)
class Meeting:
    id: UUID
    title: str
    summary_notes: str | None
    start_time: datetime | None
    end_time: datetime | None
    status: str
    workspace_id: UUID
    created_by_user_id: UUID
    calendar_event_id: UUID | None
    created_at: datetime
    updated_at: datetime
    redirect_to_meeting_id: UUID | None = None

    @property
    def sort_time(self) -> datetime:
        return self.start_time or self.created_at


@dataclass(frozen=True)
class Participant:
    id: UUID
    meeting_id: UUID
    user_id: UUID | None
    email: str
    name: str
    role: str
    is_attended: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class AgendaItem:
    id: UUID
    meeting_id: UUID
    title: str
    description: str | None
    item_type: str
    status: str
    sequence: str
    time_allocation_minutes: int | None
    talking_points: Any
    presenters: tuple[UUID, ...]
    presenter_details: tuple[dict[str, str], ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ActionItem:
    id: UUID
    meeting_id: UUID
    assigned_to_user_id: UUID | None
    title: str
    description: str
    status: str
    is_completed: bool
    due_date: date | None
    completed_at: datetime | None
    has_partner_assignment: bool
    partner_context: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class CalendarEvent:
    id: UUID
    title: str
    description: str
    start_time: datetime
    end_time: datetime
    location: str
    attendees: tuple[dict[str, str], ...]
    organizer: dict[str, str]
    linked_meetings: tuple[UUID, ...]
    meeting_id: UUID | None


Resource = Meeting | Participant | AgendaItem | ActionItem | CalendarEvent


def to_json(record: Resource) -> dict[str, Any]:
    return {f.name: _json_value(getattr(record, f.name)) for f in fields(record)}


def rfc3339(moment: datetime | float) -> str:
    """UTC, to the second: ``2026-05-04T09:30:00Z``. A float is Unix seconds."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc(moment: float) -> datetime:
    """Unix seconds as an aware datetime, to the second (as the API shows it)."""
    return datetime.fromtimestamp(int(moment), UTC)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):  # before date: a datetime is a date
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, tuple):
        return [_json_value(item) for item in value]
    return value
