"""Sample meetings (with participants and agenda items), action items and calendar events for a
workspace, generated for its owner.

Generated on first use and deterministic: the data depends only on the owner's id and the day their
account was created, so a workspace looks the same on every run. Meetings spread over the three
weeks before that day and the two weeks after it. Participants and agenda items come from a second
generator, so adding them left the rest of the data as it was.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from gateway_sandbox.seed import Seed, SeedMeeting
from gateway_sandbox.state.content_records import (
    ActionItem,
    AgendaItem,
    CalendarEvent,
    Meeting,
    Participant,
    utc,
)
from gateway_sandbox.state.records import User, Workspace

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
AGENDA = (
    ("Updates since last time", "DISCUSSION"), ("Open questions", "QUESTIONS_TO_ANSWER"),
    ("Decisions and owners", "DISCUSSION"), ("Wrap-up", "ADJOURN"),
)  # fmt: skip


@dataclass(frozen=True)
class SampleData:
    meetings: tuple[Meeting, ...]
    action_items: tuple[ActionItem, ...]
    calendar_events: tuple[CalendarEvent, ...]
    participants: tuple[Participant, ...] = ()
    agenda_items: tuple[AgendaItem, ...] = ()


def generate(user: User) -> SampleData:
    return _Generator(user).run()


def for_workspace(workspace: Workspace, members: list[User], seed: Seed, now: float) -> SampleData:
    """A workspace's starting content: sample data generated for its owner (the first of
    ``members``) unless the seed turned that off, plus the meetings and events the seed lists."""
    owner = members[0] if members else None
    base = (
        generate(owner) if owner is not None and workspace.sample_data else SampleData((), (), ())
    )
    owner_id = owner.id if owner is not None else UUID(int=0)
    meetings, participants, action_items = list(base.meetings), list(base.participants), []
    for index, entry in enumerate(m for m in seed.meetings if m.workspace == workspace.id):
        meeting = _seeded_meeting(entry, workspace.id, owner_id, index, now)
        meetings.append(meeting)
        if owner is not None:
            participants.append(
                Participant(
                    uuid.uuid5(meeting.id, "owner"),
                    meeting.id,
                    owner.id,
                    owner.email,
                    owner.name,
                    "EDITOR",
                    False,
                    meeting.created_at,
                    meeting.created_at,
                )
            )
        for position, item in enumerate(entry.action_items):
            done = item.status == "completed"
            action_items.append(
                ActionItem(
                    id=uuid.uuid5(meeting.id, f"action-item:{position}"),
                    meeting_id=meeting.id,
                    assigned_to_user_id=owner.id if owner is not None else None,
                    title=item.title,
                    description=item.description or "",
                    status=item.status,
                    is_completed=done,
                    due_date=item.due_date,
                    completed_at=utc(now) if done else None,
                    has_partner_assignment=False,
                    partner_context=None,
                    created_at=utc(now),
                    updated_at=utc(now),
                )
            )
    events = list(base.calendar_events)
    organizer = {"email": owner.email, "name": owner.name} if owner is not None else {}
    for index, event in enumerate(e for e in seed.calendar_events if e.workspace == workspace.id):
        events.append(
            CalendarEvent(
                id=uuid.uuid5(workspace.id, f"event:{index}:{event.title}"),
                title=event.title,
                description=event.title,
                start_time=event.start_time.astimezone(UTC),
                end_time=event.end_time.astimezone(UTC),
                location=event.location,
                attendees=(
                    ({**organizer, "status": "accepted", "type": "required"},) if organizer else ()
                ),
                organizer=organizer,
                linked_meetings=(),
                meeting_id=None,
            )
        )
    return SampleData(
        meetings=tuple(meetings),
        action_items=(*base.action_items, *action_items),
        calendar_events=tuple(events),
        participants=tuple(participants),
        agenda_items=base.agenda_items,
    )


def _seeded_meeting(
    entry: SeedMeeting, workspace_id: UUID, owner_id: UUID, index: int, now: float
) -> Meeting:
    start = entry.start_time.astimezone(UTC) if entry.start_time else None
    end = entry.end_time.astimezone(UTC) if entry.end_time else None
    status = entry.status
    if status is None:
        moment = utc(now)
        if start is None or end is None:
            status = "draft"
        elif end <= moment:
            status = "completed"
        else:
            status = "scheduled" if start > moment else "in_progress"
    return Meeting(
        id=uuid.uuid5(workspace_id, f"meeting:{index}:{entry.title}"),
        title=entry.title,
        summary_notes=entry.summary_notes,
        start_time=start,
        end_time=end,
        status=status,
        workspace_id=workspace_id,
        created_by_user_id=owner_id,
        calendar_event_id=None,
        created_at=utc(now),
        updated_at=utc(now),
    )


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
        extras = _Extras(self.user, self.events)
        for meeting in self.meetings:
            extras.add(meeting)
        return SampleData(
            meetings=tuple(sorted(self.meetings, key=lambda m: (m.sort_time, m.id), reverse=True)),
            action_items=tuple(
                sorted(self.action_items, key=lambda a: (a.created_at, a.id), reverse=True)
            ),
            calendar_events=tuple(sorted(self.events, key=lambda e: (e.start_time, e.id))),
            participants=tuple(extras.participants),
            agenda_items=tuple(extras.agenda_items),
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


class _Extras:
    """Each meeting's participants (the owner as editor, the event's guests as viewers) and agenda."""

    def __init__(self, user: User, events: list[CalendarEvent]) -> None:
        self.user = user
        self.rng = random.Random(user.id.int ^ 0x5EED)
        self.events = {event.id: event for event in events}
        self.participants: list[Participant] = []
        self.agenda_items: list[AgendaItem] = []

    def new_id(self) -> UUID:
        return UUID(int=self.rng.getrandbits(128), version=4)

    def add(self, meeting: Meeting) -> None:
        event = self.events.get(meeting.calendar_event_id) if meeting.calendar_event_id else None
        guests = [(a["email"], a["name"]) for a in event.attendees[1:]] if event else []
        at = meeting.created_at
        people: list[tuple[str, str, UUID | None, str]] = [
            (self.user.email, self.user.name, self.user.id, "EDITOR")
        ]
        people += [(email, name, None, "VIEWER") for email, name in guests]
        done = meeting.status in ("ended", "completed")
        for email, name, user_id, role in people:
            attended = done and self.rng.random() < 0.85
            self.participants.append(
                Participant(self.new_id(), meeting.id, user_id, email, name, role, attended, at, at)
            )
        for position, (title, item_type) in enumerate(AGENDA[: self.rng.randint(0, 3)], 1):
            self.agenda_items.append(
                AgendaItem(
                    id=self.new_id(),
                    meeting_id=meeting.id,
                    title=title,
                    description=None,
                    item_type=item_type,
                    status="completed" if done else "pending",
                    sequence=str(position),
                    time_allocation_minutes=self.rng.choice((5, 10, 15)),
                    talking_points=None,
                    presenters=(),
                    presenter_details=(),
                    created_at=at,
                    updated_at=at,
                )
            )
