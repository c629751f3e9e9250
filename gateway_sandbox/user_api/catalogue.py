"""The user-API reads Contio's SDK (1.9.0) offers beyond the reference this sandbox follows:
meeting templates, toolkits, workflow runs, chat sessions and their turns, a meeting's next steps,
action buttons, next-step results, context documents (and their content) and transcript export.

Read-only and made up, in the shapes of the SDK's own models: each workspace, user and meeting has
one fixed record of each kind (two templates), its id derived from theirs, so the same ids come back
on every run; nothing is stored and nothing can be created here. An id that is not one of them is
404 ``not_found``, as for the meetings; a meeting of another workspace too. Every read takes
``meetings:read``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from gateway_sandbox import query
from gateway_sandbox.errors import ApiError
from gateway_sandbox.state.content_records import Meeting, rfc3339
from gateway_sandbox.state.store import SandboxStore
from gateway_sandbox.user_api.caller import Caller, caller

SCOPE = "meetings:read"
_NAMESPACE = uuid.UUID("6d1f4a52-3c0e-4f7b-9a11-5b2f0c9e7d31")
TEMPLATES = ("Weekly Team Sync", "Customer Call")


def record_id(kind: str, owner: uuid.UUID) -> str:
    """The fixed id of ``owner``'s record of ``kind``."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{owner}"))


def _times(moment: datetime | float) -> dict[str, str]:
    stamp = rfc3339(moment)
    return {"created_at": stamp, "updated_at": stamp}


def _templates(who: Caller) -> list[dict[str, Any]]:
    workspace = who.user.workspace_id
    return [
        {
            "id": record_id(f"template-{index}", workspace),
            "name": name,
            "description": f"The sandbox's {name.lower()} template.",
            **_times(who.user.created_at),
        }
        for index, name in enumerate(TEMPLATES)
    ]


def _toolkits(who: Caller) -> list[dict[str, Any]]:
    workspace = who.user.workspace_id
    return [
        {
            "id": record_id("toolkit", workspace),
            "name": "Follow-ups",
            "slug": "follow-ups",
            "description": "Drafts follow-up emails after a meeting.",
            "version": "1.0.0",
            "is_active": True,
            "ownership_type": "PARTNER",
            "partner_app_id": record_id("partner-app", workspace),
            "manifest": {"name": "Follow-ups", "version": "1.0.0"},
            "auto_propagate": False,
            "auto_install_on_new_workspaces": False,
            **_times(who.user.created_at),
        }
    ]


def _workflow_runs(who: Caller) -> list[dict[str, Any]]:
    workspace = who.user.workspace_id
    return [
        {
            "id": record_id("workflow-run", workspace),
            "workflow_template_id": record_id("workflow-template", workspace),
            "originating_id": str(who.user.id),
            "originating_type": "USER",
            "status": "COMPLETED",
            "workspace_id": str(workspace),
            "owner_user_id": str(who.user.id),
            **_times(who.user.created_at),
        }
    ]


def _chat_turn(who: Caller) -> dict[str, Any]:
    session = record_id("chat-session", who.user.id)
    stamp = rfc3339(who.user.created_at)
    return {
        "id": record_id("chat-turn", who.user.id),
        "session_id": session,
        "sequence_number": 1,
        "role": "agent",
        "content": "Here is what your meetings this week were about.",
        "status": "completed",
        "error": None,
        "created_at": stamp,
        "completed_at": stamp,
    }


def _chat_sessions(who: Caller) -> list[dict[str, Any]]:
    return [
        {
            "id": record_id("chat-session", who.user.id),
            "meeting_id": None,
            "status": "active",
            "title": "This week",
            "turn_count": 1,
            **_times(who.user.created_at),
        }
    ]


def _next_steps(meeting: Meeting) -> list[dict[str, Any]]:
    step = record_id("next-step", meeting.id)
    return [
        {
            "id": step,
            # Not in the SDK's model: where a client finds a result without executing the step.
            "latest_result_id": record_id("next-step-result", uuid.UUID(step)),
            "name": "Send a recap",
            "description": "Email the attendees a recap of the meeting.",
            "type": "AI",
            "autopilot": False,
            "action_buttons": _action_buttons(meeting),
        }
    ]


def _action_buttons(meeting: Meeting) -> list[dict[str, Any]]:
    return [
        {
            "id": record_id("action-button", meeting.id),
            "name": "Email the recap",
            "description": "Sends the recap to every attendee.",
            "is_default": True,
        }
    ]


def _context_documents(who: Caller, meeting: Meeting) -> list[dict[str, Any]]:
    document = record_id("context-document", meeting.id)
    return [
        {
            "id": document,
            "document_id": document,
            "meeting_id": str(meeting.id),
            "workspace_id": str(meeting.workspace_id),
            "partner_app_id": record_id("partner-app", meeting.workspace_id),
            "platform_name": "Sandbox",
            "title": "Account notes",
            "source_format": "md",
            "file_status": "READY",
            "created_by_user_id": str(who.user.id),
            **_times(meeting.created_at),
        }
    ]


def _one(items: list[dict[str, Any]], wanted: str, what: str) -> dict[str, Any]:
    for item in items:
        if item["id"] == wanted:
            return item
    raise ApiError(404, "not_found", f"{what} not found.")


class CatalogueEndpoints:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def _page(
        self, request: Request, records: Callable[[Caller], list[dict[str, Any]]]
    ) -> Response:
        who = caller(self.store, request, SCOPE)
        limit, offset = query.pagination(request.query_params)
        return JSONResponse(query.page(records(who), limit, offset))

    def _get(
        self,
        request: Request,
        records: Callable[[Caller], list[dict[str, Any]]],
        param: str,
        what: str,
    ) -> Response:
        who = caller(self.store, request, SCOPE)
        return JSONResponse(_one(records(who), request.path_params[param], what))

    async def templates(self, request: Request) -> Response:
        return self._page(request, _templates)

    async def template(self, request: Request) -> Response:
        return self._get(request, _templates, "template_id", "Template")

    async def toolkits(self, request: Request) -> Response:
        return self._page(request, _toolkits)

    async def toolkit(self, request: Request) -> Response:
        return self._get(request, _toolkits, "toolkit_id", "Toolkit")

    async def workflow_runs(self, request: Request) -> Response:
        return self._page(request, _workflow_runs)

    async def workflow_run(self, request: Request) -> Response:
        return self._get(request, _workflow_runs, "workflow_run_id", "Workflow run")

    async def chat_sessions(self, request: Request) -> Response:
        return self._page(request, _chat_sessions)

    async def chat_session(self, request: Request) -> Response:
        who = caller(self.store, request, SCOPE)
        session = _one(_chat_sessions(who), request.path_params["session_id"], "Chat session")
        # As the SDK reads it: the session, its turns and their page.
        turns = [_chat_turn(who)]
        page = {"total": len(turns), "limit": len(turns), "offset": 0}
        return JSONResponse({"session": session, "turns": turns, "turn_pagination": page})

    async def chat_turn(self, request: Request) -> Response:
        who = caller(self.store, request, SCOPE)
        _one(_chat_sessions(who), request.path_params["session_id"], "Chat session")
        turn = _one([_chat_turn(who)], request.path_params["turn_id"], "Chat turn")
        return JSONResponse({"turn": turn})

    async def next_steps(self, request: Request) -> Response:
        who = caller(self.store, request, SCOPE)
        limit, offset = query.pagination(request.query_params)
        return JSONResponse(query.page(_next_steps(who.meeting(request)), limit, offset))

    async def action_buttons(self, request: Request) -> Response:
        who = caller(self.store, request, SCOPE)
        limit, offset = query.pagination(request.query_params)
        return JSONResponse(query.page(_action_buttons(who.meeting(request)), limit, offset))

    async def next_step_result(self, request: Request) -> Response:
        """A result for each next step of the caller's meetings, its id derived from the step's."""
        who = caller(self.store, request, SCOPE)
        wanted = request.path_params["result_id"]
        for meeting in who.content.meetings():
            step = record_id("next-step", meeting.id)
            if record_id("next-step-result", uuid.UUID(step)) == wanted:
                return JSONResponse(
                    {
                        "id": wanted,
                        "next_step_id": step,
                        "meeting_id": str(meeting.id),
                        "status": "completed",
                        "content": f"Recap of {meeting.title}.",
                        **_times(meeting.updated_at),
                    }
                )
        raise ApiError(404, "not_found", "Next step result not found.")

    async def transcript(self, request: Request) -> Response:
        meeting = caller(self.store, request, SCOPE).meeting(request)
        return PlainTextResponse(f"{meeting.title}\n\nSandbox: this meeting has no recording.\n")

    async def context_documents(self, request: Request) -> Response:
        who = caller(self.store, request, SCOPE)
        limit, offset = query.pagination(request.query_params)
        documents = _context_documents(who, who.meeting(request))
        return JSONResponse(query.page(documents, limit, offset))

    async def context_document(self, request: Request) -> Response:
        who = caller(self.store, request, SCOPE)
        documents = _context_documents(who, who.meeting(request))
        return JSONResponse(_one(documents, request.path_params["document_id"], "Document"))

    async def context_content(self, request: Request) -> Response:
        who = caller(self.store, request, SCOPE)
        documents = _context_documents(who, who.meeting(request))
        document = _one(documents, request.path_params["document_id"], "Document")
        return PlainTextResponse(f"# {document['title']}\n", media_type="text/markdown")
