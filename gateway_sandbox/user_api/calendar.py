"""``/v1/partner/user/calendar/events``: list (a date range is required), read, and create a meeting
from an event.

``start_date``/``end_date`` (RFC 3339) are preferred; the deprecated ``start``/``end`` are read when
they are absent. Events starting within the range are listed, ``direction`` ``asc`` (default) or
``desc``. Creating a meeting from an event answers 201 ``{created: true, meeting, message}``, or 200
``{created: false, meeting}`` when the event already has one; the event's organizer becomes an
editor and its other attendees viewers. The partner hears ``meeting.created`` and, for the
attendees added, one ``participant.added``.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway_sandbox import query
from gateway_sandbox.errors import ApiError
from gateway_sandbox.state import webhook_events
from gateway_sandbox.state.content_records import (
    CalendarEvent,
    Meeting,
    Participant,
    rfc3339,
    to_json,
    utc,
)
from gateway_sandbox.state.store import SandboxStore
from gateway_sandbox.user_api.caller import Caller, caller
from gateway_sandbox.user_api.meetings import add_meeting, meeting_json


class CalendarEndpoints:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    async def calendar_events(self, request: Request) -> Response:
        who = caller(self.store, request, "calendar:read")
        params = request.query_params
        limit, offset = query.pagination(params)
        start = _required(params, "start_date", "start")
        end = _required(params, "end_date", "end")
        if end < start:
            raise ApiError(400, "invalid_query_parameters", "end_date is before start_date.")
        direction = query.choice(params, "direction", ("asc", "desc")) or "asc"
        found = [to_json(e) for e in who.content.calendar_events() if start <= e.start_time <= end]
        return JSONResponse(query.page(found[:: -1 if direction == "desc" else 1], limit, offset))

    async def calendar_event(self, request: Request) -> Response:
        who = caller(self.store, request, "calendar:read")
        return JSONResponse(to_json(self._event(who, request)))

    async def create_meeting(self, request: Request) -> Response:
        who = caller(self.store, request, "calendar:write")
        with who.content.lock:
            event = self._event(who, request)
            existing = [who.content.meeting(m) for m in event.linked_meetings]
            linked = next((m for m in existing if m is not None), None)
            if linked is not None:
                return JSONResponse({"created": False, "meeting": meeting_json(linked)})
            meeting = self._meeting_for(who, event)
            add_meeting(self.store, who, meeting)
            who.content.put_calendar_event(
                replace(
                    event,
                    linked_meetings=(*event.linked_meetings, meeting.id),
                    meeting_id=meeting.id,
                )
            )
            invited = self._invite(who, event, meeting)
        if invited:
            self._announce(who, meeting, invited)
        body = {
            "created": True,
            "meeting": meeting_json(meeting),
            "message": "Meeting created from the calendar event.",
        }
        return JSONResponse(body, 201)

    def _event(self, who: Caller, request: Request) -> CalendarEvent:
        raw = request.path_params["calendar_event_id"]
        event = who.content.calendar_event(query.uuid(raw, "invalid_calendar_event_id", "id"))
        if event is None:
            raise ApiError(404, "not_found", "Calendar event not found.")
        return event

    def _meeting_for(self, who: Caller, event: CalendarEvent) -> Meeting:
        now = utc(self.store.now())
        status = "completed" if event.end_time <= now else "scheduled"
        return Meeting(
            id=uuid.uuid4(),
            title=event.title,
            summary_notes=None,
            start_time=event.start_time,
            end_time=event.end_time,
            status=status,
            workspace_id=who.user.workspace_id,
            created_by_user_id=who.user.id,
            calendar_event_id=event.id,
            created_at=now,
            updated_at=now,
        )

    def _invite(self, who: Caller, event: CalendarEvent, meeting: Meeting) -> list[Participant]:
        """The event's attendees join the meeting (the creator already has); those added."""
        invited: list[Participant] = []
        listed = {p.email for p in who.content.participants(meeting.id)}
        members = {u.email: u.id for u in self.store.directory.members(who.user.workspace_id)}
        for attendee in event.attendees:
            email = attendee.get("email", "").lower()
            if not email or email in listed:
                continue
            role = "EDITOR" if email == event.organizer.get("email") else "VIEWER"
            participant = who.content.put_participant(
                Participant(
                    uuid.uuid4(),
                    meeting.id,
                    members.get(email),
                    email,
                    attendee.get("name", email),
                    role,
                    False,
                    meeting.created_at,
                    meeting.created_at,
                )
            )
            listed.add(email)
            invited.append(participant)
        return invited

    def _announce(self, who: Caller, meeting: Meeting, invited: list[Participant]) -> None:
        added = {
            "meeting_id": str(meeting.id),
            "workspace_id": str(meeting.workspace_id),
            "added_at": rfc3339(meeting.created_at),
            "participants": [
                {
                    "participant_id": str(p.id),
                    "role": p.role,
                    "user_id": str(p.user_id) if p.user_id else None,
                    "guest_email": None if p.user_id else p.email,
                }
                for p in invited
            ],
        }
        self.store.events.publish(webhook_events.PARTICIPANT_ADDED, added, who.user, actor=who.user)


def _required(params: QueryParams, name: str, deprecated: str) -> datetime:
    value = query.timestamp(params, name)
    if value is None and deprecated in params:
        value = query.timestamp(QueryParams({name: params[deprecated]}), name)
    if value is None:
        raise ApiError(400, f"missing_{name}", f"{name} is required.")
    return value
