"""``/v1/partner/user/action-items``: list (with its filters), read, create, update (PATCH, or the
deprecated PUT) and delete.

``start_date`` and ``end_date`` filter on ``created_at``. ``status`` and ``is_completed`` move
together: ``completed`` sets ``is_completed`` and ``completed_at``; ``is_completed: false`` on a
completed item reopens it as ``accepted``; contradicting values are 400 ``invalid_request``.
``partner_context`` sets ``has_partner_assignment``. Completion also sends
``action_item.completed``; deletion sends nothing (Contio documents no such event).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway_sandbox import query
from gateway_sandbox.errors import ApiError
from gateway_sandbox.json_bodies import Body, invalid, json_body
from gateway_sandbox.state import webhook_events
from gateway_sandbox.state.content_records import (
    ACTION_ITEM_STATUSES,
    ActionItem,
    rfc3339,
    to_json,
    utc,
)
from gateway_sandbox.state.store import SandboxStore
from gateway_sandbox.user_api.caller import Caller, caller

DONE = "completed"
REOPENED = "accepted"


class ActionItemEndpoints:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    async def action_items(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.create(request)
        who = caller(self.store, request, "action-items:read")
        params = request.query_params
        limit, offset = query.pagination(params)
        meeting_id = params.get("meeting_id")
        of_meeting = (
            query.uuid(meeting_id, "invalid_meeting_id", "meeting_id") if meeting_id else None
        )
        completed = query.boolean(params, "is_completed")
        partner = query.boolean(params, "has_partner_assignment")
        start = query.timestamp(params, "start_date")
        end = query.timestamp(params, "end_date")
        found = [
            to_json(item)
            for item in who.content.action_items()
            if (of_meeting is None or item.meeting_id == of_meeting)
            and (completed is None or item.is_completed == completed)
            and (partner is None or item.has_partner_assignment == partner)
            and (start is None or item.created_at >= start)
            and (end is None or item.created_at <= end)
        ]
        return JSONResponse(query.page(found, limit, offset))

    async def action_item(self, request: Request) -> Response:
        if request.method in ("PUT", "PATCH"):
            return await self.update(request)
        if request.method == "DELETE":
            return await self.delete(request)
        who = caller(self.store, request, "action-items:read")
        return JSONResponse(to_json(self._item(who, request)))

    async def create(self, request: Request) -> Response:
        who = caller(self.store, request, "action-items:write")
        body = await json_body(request)
        if body.raw.get("meeting_id") is None:
            raise invalid("meeting_id is required.")
        meeting_id = body.uuid("meeting_id", "invalid_meeting_id")
        title = body.required_text("title")
        status = body.choice("status", ACTION_ITEM_STATUSES, "invalid_status") or "needs_review"
        due_date = body.day("due_date", "invalid_due_date")
        context = body.object("partner_context")
        assert meeting_id is not None
        if who.content.meeting(meeting_id) is None:
            raise ApiError(404, "not_found", "Meeting not found.")
        now = utc(self.store.now())
        item = who.content.put_action_item(
            ActionItem(
                id=uuid.uuid4(),
                meeting_id=meeting_id,
                assigned_to_user_id=None,
                title=title,
                description=body.text("description", nullable=True) or "",
                status=status,
                is_completed=status == DONE,
                due_date=due_date,
                completed_at=now if status == DONE else None,
                has_partner_assignment=context is not None,
                partner_context=context,
                created_at=now,
                updated_at=now,
            )
        )
        created = {
            "action_item_id": str(item.id),
            "meeting_id": str(item.meeting_id),
            "title": item.title,
            "workspace_id": str(who.user.workspace_id),
            "created_at": rfc3339(now),
            "assignee_id": None,
        }
        self.store.events.publish(
            webhook_events.ACTION_ITEM_CREATED, created, who.user, actor=who.user
        )
        return JSONResponse(to_json(item), 201)

    async def update(self, request: Request) -> Response:
        who = caller(self.store, request, "action-items:write")
        body = await json_body(request)
        changes = _changes(body)
        now = utc(self.store.now())
        with who.content.lock:
            before = self._item(who, request)
            after = who.content.put_action_item(_apply(before, body, changes, now))
        self._publish_update(who, before, after)
        return JSONResponse(to_json(after))

    async def delete(self, request: Request) -> Response:
        who = caller(self.store, request, "action-items:write")
        with who.content.lock:
            who.content.remove_action_item(self._item(who, request).id)
        return Response(status_code=204)

    def _item(self, who: Caller, request: Request) -> ActionItem:
        raw = request.path_params["action_item_id"]
        item = who.content.action_item(query.uuid(raw, "invalid_action_item_id", "id"))
        if item is None:
            raise ApiError(404, "not_found", "Action item not found.")
        return item

    def _publish_update(self, who: Caller, before: ActionItem, after: ActionItem) -> None:
        common = {
            "action_item_id": str(after.id),
            "meeting_id": str(after.meeting_id),
            "workspace_id": str(who.user.workspace_id),
            "assignee_id": str(after.assigned_to_user_id) if after.assigned_to_user_id else None,
        }
        updated = {
            **common,
            "status": after.status,
            "is_completed": after.is_completed,
            "updated_at": rfc3339(after.updated_at),
        }
        self.store.events.publish(
            webhook_events.ACTION_ITEM_UPDATED, updated, who.user, actor=who.user
        )
        if after.is_completed and not before.is_completed and after.completed_at is not None:
            completed = {
                **common,
                "title": after.title,
                "completed_at": rfc3339(after.completed_at),
                "completed_by_user_id": str(who.user.id),
            }
            self.store.events.publish(
                webhook_events.ACTION_ITEM_COMPLETED, completed, who.user, actor=who.user
            )


def _changes(body: Body) -> dict[str, Any]:
    """The fields the update sets, checked (everything but the status pair)."""
    changes: dict[str, Any] = {}
    if (title := body.text("title")) is not None:
        changes["title"] = title
    if body.has("description"):
        changes["description"] = body.text("description", nullable=True) or ""
    if body.has("due_date"):
        changes["due_date"] = body.day("due_date", "invalid_due_date")
    if body.has("partner_context"):
        context = body.object("partner_context")
        changes["partner_context"] = context
        changes["has_partner_assignment"] = context is not None
    return changes


def _apply(item: ActionItem, body: Body, changes: dict[str, Any], now: Any) -> ActionItem:
    status = body.choice("status", ACTION_ITEM_STATUSES, "invalid_status")
    completed = body.boolean("is_completed")
    if status is not None and completed is not None and (status == DONE) != completed:
        raise invalid("status and is_completed contradict each other.")
    if status is None and completed is not None:
        status = DONE if completed else (REOPENED if item.is_completed else item.status)
    if status is not None:
        done = status == DONE
        changes["status"], changes["is_completed"] = status, done
        changes["completed_at"] = (item.completed_at or now) if done else None
    return replace(item, **changes, updated_at=now)
