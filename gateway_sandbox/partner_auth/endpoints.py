"""Partner-auth provisioning: ``POST /auth/initiate`` and ``POST /auth/verify``.

Both take JSON and the partner's ``Authorization: Basic`` (``client_id`` in the body must match).
Their errors take the partner API shape ``{code, error, message, request_id}``, as §7's table lists
the workspace codes there (``workspace_conflict`` adds ``workspace_id``):

- 400 ``invalid_request``: a missing or malformed field (a non-UUID ``workspace_id`` included).
- 404 ``workspace_not_found``: the SDK and README say 400, the OpenAPI spec 404 (a CONFLICT); the
  sandbox follows the spec, the server contract, and a missing thing is a 404.
- 403 ``workspace_not_authorized``, 409 ``workspace_conflict``: as documented.
- 400 ``invalid_code`` from verify, with ``reason`` and ``attempts_remaining`` (see ``challenges``).

Verify never returns tokens, although the OpenAPI example shows some: tokens come only from the
code exchange, so consent and PKCE always apply. It answers ``{success, message, redirect}`` and
opens the authenticated session that check-consent and ``POST /oauth2/authorize`` then use.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway_sandbox.errors import NO_STORE, ApiError, OAuthError
from gateway_sandbox.json_bodies import Body, json_body
from gateway_sandbox.oauth.client_auth import authenticate_client
from gateway_sandbox.state.challenges import CodeRejected, UnknownSession
from gateway_sandbox.state.directory import (
    WorkspaceConflict,
    WorkspaceNotAuthorized,
    WorkspaceNotFound,
)
from gateway_sandbox.state.store import SandboxStore

CHALLENGE_NAME = "CUSTOM_CHALLENGE"


def authenticate(request: Request, body: Body, store: SandboxStore, required: bool = True) -> None:
    """Check the Basic client credentials against the body's ``client_id`` (401 otherwise)."""
    client_id = body.required_text("client_id")
    if not required and "authorization" not in request.headers:
        if client_id != store.options.client_id:
            raise ApiError(401, "invalid_client", "The client_id is not registered.")
        return
    try:
        authenticate_client(request, FormData({"client_id": client_id}), store.options)
    except OAuthError as exc:
        raise ApiError(exc.status_code, exc.error, exc.description, exc.headers) from exc


class PartnerAuthEndpoints:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    async def initiate(self, request: Request) -> Response:
        body = await json_body(request)
        authenticate(request, body, self.store)
        email = body.email("email")
        name = body.text("name")
        workspace_id = body.uuid("workspace_id")
        is_admin = bool(body.boolean("is_admin"))
        try:
            user, created = self.store.directory.provision(email, name, workspace_id, is_admin)
        except WorkspaceNotFound as exc:
            raise ApiError(404, "workspace_not_found", str(exc)) from exc
        except WorkspaceNotAuthorized as exc:
            raise ApiError(403, "workspace_not_authorized", str(exc)) from exc
        except WorkspaceConflict as exc:
            extra = {"workspace_id": str(exc.workspace_id)}
            raise ApiError(409, "workspace_conflict", str(exc), extra=extra) from exc
        session = self.store.challenges.open(user.id, user.email)
        self.store.counters.add("codes_sent")
        answer = {
            "session": session,
            "challenge_name": CHALLENGE_NAME,
            "challenge_params": {},
            "user_provisioned": created,
        }
        return JSONResponse(answer, headers=NO_STORE)

    async def verify(self, request: Request) -> Response:
        body = await json_body(request)
        authenticate(request, body, self.store)
        email = body.email("email")
        code = body.required_text("code")
        session = body.required_text("session")
        try:
            self.store.challenges.verify(email, session, code)
        except UnknownSession as exc:
            raise ApiError(400, "invalid_request", str(exc)) from exc
        except CodeRejected as exc:
            extra = {"reason": exc.reason, "attempts_remaining": exc.attempts_remaining}
            raise ApiError(400, "invalid_code", str(exc), extra=extra) from exc
        self.store.counters.add("codes_verified")
        answer = {"success": True, "message": "The code is verified.", "redirect": None}
        return JSONResponse(answer, headers=NO_STORE)
