"""``/v1/partner/user/meetings/{id}/agenda-items``: list, create, update (PATCH, or the deprecated
PUT) and delete.

Items are ordered by ``sequence``, a fractional index sent as a decimal string; an item created
without one is appended (the next whole number after the last). ``presenters`` must be users of
the workspace; ``presenter_details`` shows who they are. Only the meeting's participants may change
its agenda (403 otherwise).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import replace
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway_sandbox import query
from gateway_sandbox.errors import ApiError
from gateway_sandbox.json_bodies import Body, invalid, json_body
from gateway_sandbox.state import webhook_events
from gateway_sandbox.state.content_records import (
    AGENDA_ITEM_STATUSES,
    AGENDA_ITEM_TYPES,
    AgendaItem,
    Meeting,
    rfc3339,
    to_json,
    utc,
)
from gateway_sandbox.state.store import SandboxStore
from gateway_sandbox.user_api.caller import Caller, caller, forbidden


class AgendaEndpoints:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    async def agenda_items(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.create(request)
        who = caller(self.store, request, "meetings:read")
        meeting = who.meeting(request)
        limit, offset = query.pagination(request.query_params)
        found = [to_json(a) for a in who.content.agenda_items(meeting.id)]
        return JSONResponse(query.page(found, limit, offset))

    async def agenda_item(self, request: Request) -> Response:
        if request.method == "DELETE":
            return await self.delete(request)
        return await self.update(request)

    async def create(self, request: Request) -> Response:
        who = caller(self.store, request, "meetings:write")
        body = await json_body(request)
        title = body.required_text("title")
        item_type = body.choice("item_type", AGENDA_ITEM_TYPES)
        if item_type is None:
            raise invalid(f"item_type is required: one of {', '.join(AGENDA_ITEM_TYPES)}.")
        presenters = self._presenters(who, body) or ((), ())
        now = utc(self.store.now())
        with who.content.lock:
            meeting = self._editable(who, request)
            sequence = body.sequence("sequence") or _next(who, meeting)
            item = who.content.put_agenda_item(
                AgendaItem(
                    id=uuid.uuid4(),
                    meeting_id=meeting.id,
                    title=title,
                    description=body.text("description", nullable=True),
                    item_type=item_type,
                    status="pending",
                    sequence=sequence,
                    time_allocation_minutes=body.count("time_allocation_minutes"),
                    talking_points=body.talking_points("talking_points"),
                    presenters=presenters[0],
                    presenter_details=presenters[1],
                    created_at=now,
                    updated_at=now,
                )
            )
        self._publish(webhook_events.AGENDA_ITEM_CREATED, who, item, {"created_at": rfc3339(now)})
        return JSONResponse(to_json(item), 201)

    async def update(self, request: Request) -> Response:
        who = caller(self.store, request, "meetings:write")
        body = await json_body(request)
        changes: dict[str, Any] = {}
        if (title := body.text("title")) is not None:
            changes["title"] = title
        if body.has("description"):
            changes["description"] = body.text("description", nullable=True)
        if (item_type := body.choice("item_type", AGENDA_ITEM_TYPES)) is not None:
            changes["item_type"] = item_type
        if (status := body.choice("status", AGENDA_ITEM_STATUSES, "invalid_status")) is not None:
            changes["status"] = status
        if (sequence := body.sequence("sequence")) is not None:
            changes["sequence"] = sequence
        if body.has("time_allocation_minutes"):
            changes["time_allocation_minutes"] = body.count("time_allocation_minutes")
        if body.has("talking_points"):
            changes["talking_points"] = body.talking_points("talking_points")
        if (presenters := self._presenters(who, body)) is not None:
            changes["presenters"], changes["presenter_details"] = presenters
        now = utc(self.store.now())
        with who.content.lock:
            meeting = self._editable(who, request)
            item = who.content.put_agenda_item(
                replace(self._item(who, request, meeting), **changes, updated_at=now)
            )
        changed = {"status": item.status, "updated_at": rfc3339(now)}
        self._publish(webhook_events.AGENDA_ITEM_UPDATED, who, item, changed)
        return JSONResponse(to_json(item))

    async def delete(self, request: Request) -> Response:
        who = caller(self.store, request, "meetings:write")
        with who.content.lock:
            meeting = self._editable(who, request)
            item = self._item(who, request, meeting)
            who.content.remove_agenda_item(item.id)
        deleted = {
            "agenda_item_id": str(item.id),
            "deleted_at": rfc3339(self.store.now()),
            "meeting_id": str(item.meeting_id),
        }
        self.store.events.publish(
            webhook_events.AGENDA_ITEM_DELETED, deleted, who.user, actor=who.user
        )
        return Response(status_code=204)

    def _editable(self, who: Caller, request: Request) -> Meeting:
        meeting = who.meeting(request)
        if not who.is_participant(meeting):
            raise forbidden("Only the meeting's participants may change its agenda.")
        return meeting

    def _item(self, who: Caller, request: Request, meeting: Meeting) -> AgendaItem:
        item_id = query.uuid(request.path_params["item_id"], "invalid_request", "item_id")
        item = who.content.agenda_item(meeting.id, item_id)
        if item is None:
            raise ApiError(404, "not_found", "Agenda item not found.")
        return item

    def _presenters(
        self, who: Caller, body: Body
    ) -> tuple[tuple[uuid.UUID, ...], tuple[dict[str, str], ...]] | None:
        ids = body.uuids("presenters")
        if ids is None:
            return None
        members = {u.id: u for u in self.store.directory.members(who.user.workspace_id)}
        if any(user_id not in members for user_id in ids):
            raise invalid("presenters must be users of the workspace.")
        details = tuple(
            {"user_id": str(i), "name": members[i].name, "email": members[i].email} for i in ids
        )
        return ids, details

    def _publish(
        self, event_type: str, who: Caller, item: AgendaItem, extra: dict[str, Any]
    ) -> None:
        data = {
            "agenda_item_id": str(item.id),
            "title": item.title,
            "item_type": item.item_type,
            "meeting_id": str(item.meeting_id),
            **extra,
        }
        self.store.events.publish(event_type, data, who.user, actor=who.user)


def _next(who: Caller, meeting: Meeting) -> str:
    items = who.content.agenda_items(meeting.id)
    last = max((Decimal(a.sequence) for a in items), default=Decimal(0))
    return str(math.floor(last) + 1)
