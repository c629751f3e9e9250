"""``/v1/partner/user/meetings/{id}/participants``: list, add and remove.

A participant whose email is a user of the workspace gets their ``user_id``; anyone else is a guest
(``user_id: null``). Adding someone already listed is 409 ``resource_already_exists``.
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway_sandbox import query
from gateway_sandbox.errors import ApiError
from gateway_sandbox.json_bodies import json_body
from gateway_sandbox.state import webhook_events
from gateway_sandbox.state.content_records import (
    PARTICIPANT_ROLES,
    Participant,
    rfc3339,
    to_json,
    utc,
)
from gateway_sandbox.state.store import SandboxStore
from gateway_sandbox.user_api.caller import caller, forbidden


class ParticipantEndpoints:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    async def participants(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.add(request)
        who = caller(self.store, request, "meetings:read")
        meeting = who.meeting(request)
        limit, offset = query.pagination(request.query_params)
        found = [to_json(p) for p in who.content.participants(meeting.id)]
        return JSONResponse(query.page(found, limit, offset))

    async def add(self, request: Request) -> Response:
        who = caller(self.store, request, "meetings:write")
        body = await json_body(request)
        email, name = body.email("email"), body.required_text("name")
        role = body.choice("role", PARTICIPANT_ROLES)
        if role is None:
            raise ApiError(400, "invalid_request", "role is required: EDITOR or VIEWER.")
        member = self.store.user_by_email(email)
        user_id = member.id if member and member.workspace_id == who.user.workspace_id else None
        now = utc(self.store.now())
        with who.content.lock:
            meeting = who.meeting(request)
            if not who.is_editor(meeting):
                raise forbidden("Only the meeting's editors may add participants.")
            if any(p.email == email for p in who.content.participants(meeting.id)):
                raise ApiError(409, "resource_already_exists", "That email is a participant.")
            participant = who.content.put_participant(
                Participant(uuid.uuid4(), meeting.id, user_id, email, name, role, False, now, now)
            )
        added = {
            "meeting_id": str(meeting.id),
            "workspace_id": str(meeting.workspace_id),
            "added_at": rfc3339(now),
            "participants": [
                {
                    "participant_id": str(participant.id),
                    "role": role,
                    "user_id": str(user_id) if user_id else None,
                    "guest_email": None if user_id else email,
                }
            ],
        }
        self.store.events.publish(webhook_events.PARTICIPANT_ADDED, added, who.user, actor=who.user)
        return JSONResponse(to_json(participant), 201)

    async def remove(self, request: Request) -> Response:
        who = caller(self.store, request, "meetings:write")
        raw = request.path_params["participant_id"]
        participant_id = query.uuid(raw, "invalid_request", "participant_id")
        with who.content.lock:
            meeting = who.meeting(request)
            participant = who.content.participant(meeting.id, participant_id)
            if participant is None:
                raise ApiError(404, "not_found", "Participant not found.")
            if not who.is_editor(meeting):
                raise forbidden("Only the meeting's editors may remove participants.")
            who.content.remove_participant(participant_id)
        removed = {
            "meeting_id": str(meeting.id),
            "participant_id": str(participant_id),
            "workspace_id": str(meeting.workspace_id),
            "removed_at": rfc3339(self.store.now()),
            "user_id": str(participant.user_id) if participant.user_id else None,
            "guest_email": None if participant.user_id else participant.email,
        }
        self.store.events.publish(
            webhook_events.PARTICIPANT_REMOVED, removed, who.user, actor=who.user
        )
        return Response(status_code=204)
