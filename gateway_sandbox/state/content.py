"""One workspace's meetings, participants, agenda items, action items and calendar events.

A plain in-memory collection. Its ``lock`` is re-entrant: an endpoint holds it across a
read-check-write (never across an ``await``), so two requests cannot interleave a change.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from uuid import UUID

from gateway_sandbox.state.content_records import (
    ActionItem,
    AgendaItem,
    CalendarEvent,
    Meeting,
    Participant,
)
from gateway_sandbox.state.sample_data import SampleData


class WorkspaceContent:
    def __init__(self, workspace_id: UUID, seeded: SampleData) -> None:
        self.workspace_id = workspace_id
        self.lock = threading.RLock()
        self._meetings = {m.id: m for m in seeded.meetings}
        self._participants = {p.id: p for p in seeded.participants}
        self._agenda_items = {a.id: a for a in seeded.agenda_items}
        self._action_items = {a.id: a for a in seeded.action_items}
        self._events = {e.id: e for e in seeded.calendar_events}

    # Meetings: newest start first

    def meetings(self) -> list[Meeting]:
        with self.lock:
            found = list(self._meetings.values())
        return sorted(found, key=lambda m: (m.sort_time, m.id), reverse=True)

    def meeting(self, meeting_id: UUID) -> Meeting | None:
        with self.lock:
            return self._meetings.get(meeting_id)

    def put_meeting(self, meeting: Meeting) -> Meeting:
        with self.lock:
            self._meetings[meeting.id] = meeting
        return meeting

    # Participants: in the order they were added

    def participants(self, meeting_id: UUID) -> list[Participant]:
        with self.lock:
            return [p for p in self._participants.values() if p.meeting_id == meeting_id]

    def participant(self, meeting_id: UUID, participant_id: UUID) -> Participant | None:
        with self.lock:
            found = self._participants.get(participant_id)
        return found if found is not None and found.meeting_id == meeting_id else None

    def put_participant(self, participant: Participant) -> Participant:
        with self.lock:
            self._participants[participant.id] = participant
        return participant

    def remove_participant(self, participant_id: UUID) -> None:
        with self.lock:
            self._participants.pop(participant_id, None)

    # Agenda items: by their fractional-index sequence

    def agenda_items(self, meeting_id: UUID) -> list[AgendaItem]:
        with self.lock:
            found = [a for a in self._agenda_items.values() if a.meeting_id == meeting_id]
        return sorted(found, key=lambda a: (Decimal(a.sequence), a.created_at, a.id))

    def agenda_item(self, meeting_id: UUID, item_id: UUID) -> AgendaItem | None:
        with self.lock:
            found = self._agenda_items.get(item_id)
        return found if found is not None and found.meeting_id == meeting_id else None

    def put_agenda_item(self, item: AgendaItem) -> AgendaItem:
        with self.lock:
            self._agenda_items[item.id] = item
        return item

    def remove_agenda_item(self, item_id: UUID) -> None:
        with self.lock:
            self._agenda_items.pop(item_id, None)

    # Action items: newest first

    def action_items(self) -> list[ActionItem]:
        with self.lock:
            found = list(self._action_items.values())
        return sorted(found, key=lambda a: (a.created_at, a.id), reverse=True)

    def action_item(self, item_id: UUID) -> ActionItem | None:
        with self.lock:
            return self._action_items.get(item_id)

    def put_action_item(self, item: ActionItem) -> ActionItem:
        with self.lock:
            self._action_items[item.id] = item
        return item

    def remove_action_item(self, item_id: UUID) -> None:
        with self.lock:
            self._action_items.pop(item_id, None)

    # Calendar events: earliest first

    def calendar_events(self) -> list[CalendarEvent]:
        with self.lock:
            found = list(self._events.values())
        return sorted(found, key=lambda e: (e.start_time, e.id))

    def calendar_event(self, event_id: UUID) -> CalendarEvent | None:
        with self.lock:
            return self._events.get(event_id)

    def put_calendar_event(self, event: CalendarEvent) -> CalendarEvent:
        with self.lock:
            self._events[event.id] = event
        return event
