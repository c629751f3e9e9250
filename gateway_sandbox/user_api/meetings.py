"""``/v1/partner/user/meetings``: list, read, create and update meetings.

Choices where Contio says nothing: a meeting created without times is a ``draft`` and one with
times ``scheduled`` (``is_instant``: ``in_progress``, starting now); ``start_time`` alone makes a
30-minute meeting; a draft given times becomes ``scheduled``. The creator is added as an ``EDITOR``
participant. ``template_id`` and ``detail_level`` are checked but not shown (Meeting has no such
fields). Unknown body fields are ignored.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway_sandbox import query
from gateway_sandbox.json_bodies import Body, invalid, json_body
from gateway_sandbox.state import webhook_events
from gateway_sandbox.state.content_records import Meeting, Participant, rfc3339, to_json, utc
from gateway_sandbox.state.store import SandboxStore
from gateway_sandbox.user_api.caller import Caller, caller, forbidden

DETAIL_LEVELS = ("BULLET_POINTS", "STANDARD", "VERBATIM")
DEFAULT_LENGTH = timedelta(minutes=30)


def meeting_json(meeting: Meeting) -> dict[str, Any]:
    """A merged or copied meeting reads as only ``{redirect_to_meeting_id}``."""
    if meeting.redirect_to_meeting_id is not None:
        return {"redirect_to_meeting_id": str(meeting.redirect_to_meeting_id)}
    return to_json(meeting)


def created_event(meeting: Meeting) -> dict[str, Any]:
    return {
        "meeting_id": str(meeting.id),
        "title": meeting.title,
        "workspace_id": str(meeting.workspace_id),
        "created_by_user_id": str(meeting.created_by_user_id),
        "created_at": rfc3339(meeting.created_at),
    }


def add_meeting(store: SandboxStore, who: Caller, meeting: Meeting) -> Meeting:
    """Store a new meeting with its creator as editor, and tell the partner."""
    user = who.user
    now = meeting.created_at
    with who.content.lock:
        who.content.put_meeting(meeting)
        who.content.put_participant(
            Participant(
                uuid.uuid4(), meeting.id, user.id, user.email, user.name, "EDITOR", False, now, now
            )
        )
    store.events.publish(webhook_events.MEETING_CREATED, created_event(meeting), user, actor=user)
    return meeting


class MeetingEndpoints:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    async def meetings(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.create(request)
        who = caller(self.store, request, "meetings:read")
        params = request.query_params
        limit, offset = query.pagination(params)
        start = query.timestamp(params, "start_date")
        end = query.timestamp(params, "end_date")
        found = [
            meeting_json(m)
            for m in who.content.meetings()
            if (start is None or m.sort_time >= start) and (end is None or m.sort_time <= end)
        ]
        return JSONResponse(query.page(found, limit, offset))

    async def meeting(self, request: Request) -> Response:
        if request.method == "PATCH":
            return await self.update(request)
        who = caller(self.store, request, "meetings:read")
        return JSONResponse(meeting_json(who.meeting(request)))

    async def create(self, request: Request) -> Response:
        who = caller(self.store, request, "meetings:write")
        body = await json_body(request)
        title = body.required_text("title")
        start, end = body.timestamp("start_time"), body.timestamp("end_time")
        _check_extras(body)
        instant = bool(body.boolean("is_instant"))
        now = utc(self.store.now())
        if instant:
            start = start or now
        if end is not None and start is None:
            raise invalid("start_time is required with end_time.", "invalid_start_time")
        if start is not None and end is None:
            end = start + DEFAULT_LENGTH
        _check_range(start, end)
        status = "in_progress" if instant else "scheduled" if start else "draft"
        meeting = Meeting(
            id=uuid.uuid4(),
            title=title,
            summary_notes=None,
            start_time=start,
            end_time=end,
            status=status,
            workspace_id=who.user.workspace_id,
            created_by_user_id=who.user.id,
            calendar_event_id=None,
            created_at=now,
            updated_at=now,
        )
        add_meeting(self.store, who, meeting)
        return JSONResponse(meeting_json(meeting), 201)

    async def update(self, request: Request) -> Response:
        who = caller(self.store, request, "meetings:write")
        body = await json_body(request)
        title = body.text("title")
        start, end = body.timestamp("start_time"), body.timestamp("end_time")
        _check_extras(body)
        with who.content.lock:
            meeting = who.meeting(request)
            if not who.is_editor(meeting):
                raise forbidden("Only the meeting's editors may change it.")
            start = start or meeting.start_time
            if end is not None and start is None:
                raise invalid("start_time is required with end_time.", "invalid_start_time")
            if end is None and start is not None:
                end = meeting.end_time or start + DEFAULT_LENGTH
            _check_range(start, end)
            status = "scheduled" if meeting.status == "draft" and start else meeting.status
            meeting = who.content.put_meeting(
                replace(
                    meeting,
                    title=title or meeting.title,
                    start_time=start,
                    end_time=end,
                    status=status,
                    updated_at=utc(self.store.now()),
                )
            )
        changed = {
            "meeting_id": str(meeting.id),
            "title": meeting.title,
            "workspace_id": str(meeting.workspace_id),
            "updated_at": rfc3339(meeting.updated_at),
            "scheduled_start": rfc3339(meeting.start_time) if meeting.start_time else None,
        }
        self.store.events.publish(webhook_events.MEETING_UPDATED, changed, who.user, actor=who.user)
        return JSONResponse(meeting_json(meeting))


def _check_extras(body: Body) -> None:
    body.uuid("template_id")
    body.choice("detail_level", DETAIL_LEVELS)


def _check_range(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end <= start:
        raise invalid("end_time must be after start_time.", "invalid_time_range")
