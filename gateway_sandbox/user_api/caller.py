"""Who is calling the user API, and what they may do.

Every call needs a live access token (else 401 ``unauthorized``) granted the endpoint's scope (else
403 ``forbidden``). A caller sees only their own workspace; another workspace's records read as 404.

Choices where Contio says little: a meeting's *editors* are its participants with role ``EDITOR``
plus the workspace's owner and admins; its *participants* are everyone listed on it plus the same
owner and admins. Adding or removing participants and changing the meeting take an editor;
agenda items take a participant (403 otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from starlette.requests import Request

from gateway_sandbox.errors import ApiError
from gateway_sandbox.oauth.bearer import bearer_token, challenge
from gateway_sandbox.query import uuid
from gateway_sandbox.state.content import WorkspaceContent
from gateway_sandbox.state.content_records import Meeting
from gateway_sandbox.state.directory import ADMIN, OWNER
from gateway_sandbox.state.records import User
from gateway_sandbox.state.store import SandboxStore


@dataclass(frozen=True)
class Caller:
    user: User
    content: WorkspaceContent

    @property
    def manages_workspace(self) -> bool:
        return self.user.workspace_role in (OWNER, ADMIN)

    def meeting(self, request: Request) -> Meeting:
        """The meeting the path names, in the caller's workspace; else 400 or 404."""
        meeting_id = uuid(request.path_params["meeting_id"], "invalid_meeting_id", "id")
        meeting = self.content.meeting(meeting_id)
        if meeting is None:
            raise ApiError(404, "not_found", "Meeting not found.")
        return meeting

    def is_editor(self, meeting: Meeting) -> bool:
        return self.manages_workspace or any(
            p.role == "EDITOR" and self._is(p.user_id, p.email)
            for p in self.content.participants(meeting.id)
        )

    def is_participant(self, meeting: Meeting) -> bool:
        return self.manages_workspace or any(
            self._is(p.user_id, p.email) for p in self.content.participants(meeting.id)
        )

    def _is(self, user_id: UUID | None, email: str) -> bool:
        return user_id == self.user.id or email == self.user.email


def caller(store: SandboxStore, request: Request, *any_of: str) -> Caller:
    token = bearer_token(request)
    live = store.authenticate(token) if token else None
    if live is None or store.faults.current().reject_access_tokens:
        message = "The access token is missing, invalid, expired or revoked."
        raise ApiError(401, "unauthorized", message, challenge("invalid_token", message))
    if not live.has_scope(*any_of):
        message = f"This endpoint needs the {' or '.join(any_of)} scope."
        headers = challenge("insufficient_scope", message, " ".join(any_of))
        raise ApiError(403, "forbidden", message, headers)
    return Caller(live.user, store.content(live.user.workspace_id))


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)
