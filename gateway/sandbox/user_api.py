"""The partner user API under ``/v1/partner/user``: profile, meetings, action items, calendar.

Every call needs a live access token (else 401 ``unauthorized``) granted the endpoint's scope
(else 403 ``forbidden``). A user sees only their own workspace's sample data.
"""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.sandbox import query
from gateway.sandbox.bearer import bearer_token, challenge
from gateway.sandbox.data import SampleData, rfc3339, to_json
from gateway.sandbox.errors import ApiError
from gateway.sandbox.records import LiveToken
from gateway.sandbox.store import SandboxStore


class UserApi:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    async def profile(self, request: Request) -> Response:
        user = self._caller(request, "profile", "openid").user
        workspace = self.store.workspace(user.workspace_id)
        return JSONResponse(
            {
                "id": str(user.id),
                "display_name": user.name,
                "email": user.email,
                "created_at": rfc3339(user.created_at),
                "workspace_id": str(workspace.id),
                "workspace_name": workspace.name,
                "workspace_role": user.workspace_role,
                "plan_type": user.plan_type,
                "timezone": user.timezone,
            }
        )

    async def meetings(self, request: Request) -> Response:
        data = self._data(request, "meetings:read")
        limit, offset = query.pagination(request.query_params)
        start = query.timestamp(request.query_params, "start_date")
        end = query.timestamp(request.query_params, "end_date")
        found = [
            to_json(meeting)
            for meeting in data.meetings
            if (start is None or meeting.start_time >= start)
            and (end is None or meeting.start_time <= end)
        ]
        return JSONResponse(query.page(found, limit, offset))

    async def meeting(self, request: Request) -> Response:
        data = self._data(request, "meetings:read")
        meeting_id = query.uuid(request.path_params["meeting_id"], "invalid_meeting_id", "id")
        for meeting in data.meetings:
            if meeting.id == meeting_id:
                return JSONResponse(to_json(meeting))
        raise ApiError(404, "not_found", "Meeting not found.")

    async def action_items(self, request: Request) -> Response:
        data = self._data(request, "action-items:read")
        params = request.query_params
        limit, offset = query.pagination(params)
        meeting_id = params.get("meeting_id")
        of_meeting = (
            query.uuid(meeting_id, "invalid_meeting_id", "meeting_id") if meeting_id else None
        )
        completed = query.boolean(params, "is_completed")
        partner = query.boolean(params, "has_partner_assignment")
        found = [
            to_json(item)
            for item in data.action_items
            if (of_meeting is None or item.meeting_id == of_meeting)
            and (completed is None or item.is_completed == completed)
            and (partner is None or item.has_partner_assignment == partner)
        ]
        return JSONResponse(query.page(found, limit, offset))

    async def calendar_events(self, request: Request) -> Response:
        """Contio appears to require the date range (reference §4), so the sandbox does too."""
        data = self._data(request, "calendar:read")
        params = request.query_params
        limit, offset = query.pagination(params)
        start = _required_date(query.timestamp(params, "start_date"), "start_date")
        end = _required_date(query.timestamp(params, "end_date"), "end_date")
        direction = params.get("direction", "asc")
        if direction not in ("asc", "desc"):
            raise ApiError(400, "invalid_query_parameters", "direction must be asc or desc.")
        found = [to_json(e) for e in data.calendar_events if start <= e.start_time <= end]
        return JSONResponse(query.page(found[:: -1 if direction == "desc" else 1], limit, offset))

    async def calendar_event(self, request: Request) -> Response:
        data = self._data(request, "calendar:read")
        raw = request.path_params["calendar_event_id"]
        event_id = query.uuid(raw, "invalid_calendar_event_id", "id")
        for event in data.calendar_events:
            if event.id == event_id:
                return JSONResponse(to_json(event))
        raise ApiError(404, "not_found", "Calendar event not found.")

    def _data(self, request: Request, scope: str) -> SampleData:
        return self.store.sample_data(self._caller(request, scope).user)

    def _caller(self, request: Request, *any_of: str) -> LiveToken:
        token = bearer_token(request)
        live = self.store.authenticate(token) if token else None
        if live is None:
            message = "The access token is missing, invalid, expired or revoked."
            raise ApiError(401, "unauthorized", message, challenge("invalid_token", message))
        if not live.has_scope(*any_of):
            message = f"This endpoint needs the {' or '.join(any_of)} scope."
            headers = challenge("insufficient_scope", message, " ".join(any_of))
            raise ApiError(403, "forbidden", message, headers)
        return live


def _required_date(value: datetime | None, name: str) -> datetime:
    if value is None:
        raise ApiError(400, f"missing_{name}", f"{name} is required.")
    return value
