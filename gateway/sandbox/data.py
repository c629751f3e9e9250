"""Sample meetings, action items and calendar events for each user's workspace.

Generated on first use and deterministic: the data depends only on the user's id and the day their
account was created, so a user sees the same workspace on every run. Meetings spread over the three
weeks before that day and the two weeks after it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from gateway.sandbox.records import User

MEETING_COUNT = 30
COLLEAGUES = (
    "Priya Shah", "Marcus Chen", "Elena Rossi", "Tomas Garcia", "Aisha Bello",
    "Jonas Weber", "Hannah Kim", "Liam O'Connor",
)  # fmt: skip
MEETING_TITLES = (
    "Weekly Team Sync", "Product Roadmap Review", "Sprint Planning", "Sprint Retrospective",
    "Design Review: Mobile Onboarding", "Customer Call: Acme Corp", "Quarterly Business Review",
    "Hiring Debrief: Senior Engineer", "Marketing Campaign Kickoff", "Budget Planning FY26",
    "Incident Postmortem: API Latency", "Architecture Review: Event Pipeline",
    "Sales Pipeline Review", "Partner Integration Check-in", "Board Prep", "1:1 with {colleague}",
    "1:1 with {colleague}", "Pricing Strategy Workshop", "Support Escalations Triage",
)  # fmt: skip
SUMMARIES = (
    "The team agreed on priorities for the next two weeks and flagged two risks to follow up on.",
    "Reviewed open questions, settled the scope and assigned owners for the remaining work.",
    "Walked through the latest numbers; the trend is positive but onboarding needs attention.",
    "Decisions were made on the timeline; a follow-up is needed with the wider group.",
)
ACTION_ITEM_TITLES = (
    "Send follow-up email with meeting notes", "Update the roadmap document",
    "Draft the budget proposal", "Schedule a design review with the mobile team",
    "Share customer feedback summary", "Prepare slides for the board meeting",
    "Open tickets for the agreed fixes", "Confirm the launch date with marketing",
    "Review the hiring scorecards", "Write the incident report",
)  # fmt: skip
OPEN_STATUSES = ("needs_review", "accepted", "accepted", "in_progress", "blocked")
LOCATIONS = (
    "Zoom",
    "Google Meet",
    "Conference Room B",
    "Microsoft Teams",
    "Main Office, 3rd Floor",
)
STANDALONE_EVENTS = ("Focus Time", "Lunch & Learn: Security Basics", "Company All-Hands")


@dataclass(frozen=True)
class Meeting:
    id: UUID
    title: str
    summary_notes: str | None
    start_time: datetime
    end_time: datetime
    status: str
    workspace_id: UUID
    created_by_user_id: UUID
    calendar_event_id: UUID | None
    created_at: datetime
    updated_at: datetime
    redirect_to_meeting_id: UUID | None = None


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


@dataclass(frozen=True)
class SampleData:
    meetings: tuple[Meeting, ...]
    action_items: tuple[ActionItem, ...]
    calendar_events: tuple[CalendarEvent, ...]


def to_json(record: Meeting | ActionItem | CalendarEvent) -> dict[str, Any]:
    return {f.name: _json_value(getattr(record, f.name)) for f in fields(record)}


def rfc3339(moment: datetime | float) -> str:
    """UTC, to the second: ``2026-05-04T09:30:00Z``. A float is Unix seconds."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def generate(user: User) -> SampleData:
    return _Generator(user).run()


class _Generator:
    def __init__(self, user: User) -> None:
        self.user = user
        self.rng = random.Random(user.id.int)
        created = datetime.fromtimestamp(user.created_at, UTC)
        self.anchor = created.replace(hour=0, minute=0, second=0, microsecond=0)
        self.meetings: list[Meeting] = []
        self.action_items: list[ActionItem] = []
        self.events: list[CalendarEvent] = []

    def new_id(self) -> UUID:
        return UUID(int=self.rng.getrandbits(128), version=4)

    def run(self) -> SampleData:
        for _ in range(MEETING_COUNT):
            self.add_meeting(self.rng.randint(-21, 14))
        for title in STANDALONE_EVENTS:
            start = self.slot(self.rng.randint(-7, 14))
            self.events.append(self.event(title, start, start + timedelta(minutes=60), None))
        return SampleData(
            meetings=tuple(sorted(self.meetings, key=lambda m: (m.start_time, m.id), reverse=True)),
            action_items=tuple(
                sorted(self.action_items, key=lambda a: (a.created_at, a.id), reverse=True)
            ),
            calendar_events=tuple(sorted(self.events, key=lambda e: (e.start_time, e.id))),
        )

    def slot(self, day: int) -> datetime:
        hour, minute = self.rng.randint(8, 16), self.rng.choice((0, 30))
        return self.anchor + timedelta(days=day, hours=hour, minutes=minute)

    def add_meeting(self, day: int) -> None:
        rng = self.rng
        meeting_id = self.new_id()
        title = rng.choice(MEETING_TITLES).format(colleague=rng.choice(COLLEAGUES).split()[0])
        start = self.slot(day)
        end = start + timedelta(minutes=rng.choice((15, 30, 45, 60, 90)))
        if day < 0:
            status = "completed" if rng.random() < 0.8 else "ended"
        else:
            status = "draft" if day > 0 and rng.random() < 0.15 else "scheduled"
        event_id = None
        if status != "draft" and rng.random() < 0.9:
            event = self.event(title, start, end, meeting_id)
            self.events.append(event)
            event_id = event.id
        # Created before it starts, and never after the account's first day.
        created = min(start, self.anchor) - timedelta(days=rng.randint(1, 14))
        self.meetings.append(
            Meeting(
                id=meeting_id,
                title=title,
                summary_notes=rng.choice(SUMMARIES) if status == "completed" else None,
                start_time=start,
                end_time=end,
                status=status,
                workspace_id=self.user.workspace_id,
                created_by_user_id=self.user.id,
                calendar_event_id=event_id,
                created_at=created,
                updated_at=end if day < 0 else created,
            )
        )
        if day < 0:
            for _ in range(rng.randint(1, 3)):
                self.add_action_item(meeting_id, end, may_be_done=day <= -3)

    def add_action_item(self, meeting_id: UUID, meeting_end: datetime, may_be_done: bool) -> None:
        rng = self.rng
        done = may_be_done and rng.random() < 0.5
        created = meeting_end + timedelta(minutes=rng.randint(1, 30))
        completed_at = created + timedelta(hours=rng.randint(2, 48)) if done else None
        title = rng.choice(ACTION_ITEM_TITLES)
        self.action_items.append(
            ActionItem(
                id=self.new_id(),
                meeting_id=meeting_id,
                assigned_to_user_id=self.user.id if rng.random() < 0.7 else None,
                title=title,
                description=f"{title}, as agreed in the meeting.",
                status="completed" if done else rng.choice(OPEN_STATUSES),
                is_completed=done,
                due_date=(meeting_end + timedelta(days=rng.randint(2, 14))).date(),
                completed_at=completed_at,
                has_partner_assignment=False,
                partner_context=None,
                created_at=created,
                updated_at=completed_at or created,
            )
        )

    def event(
        self, title: str, start: datetime, end: datetime, meeting_id: UUID | None
    ) -> CalendarEvent:
        rng = self.rng
        organizer = {"email": self.user.email, "name": self.user.name}
        guests = rng.sample(COLLEAGUES, rng.randint(1, 4))
        attendees = (
            {**organizer, "status": "accepted", "type": "required"},
            *(
                {
                    "email": f"{name.split()[0].lower()}@example.com",
                    "name": name,
                    "status": rng.choice(("accepted", "tentative", "needsAction", "declined")),
                    "type": rng.choice(("required", "required", "optional")),
                }
                for name in guests
            ),
        )
        return CalendarEvent(
            id=self.new_id(),
            title=title,
            description=f"{title} ({len(attendees)} attendees)",
            start_time=start,
            end_time=end,
            location=rng.choice(LOCATIONS),
            attendees=attendees,
            organizer=organizer,
            linked_meetings=(meeting_id,) if meeting_id else (),
            meeting_id=meeting_id,
        )
