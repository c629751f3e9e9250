"""``GET /v1/partner/user/profile``: the user with their workspace and role."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway_sandbox.state.content_records import rfc3339
from gateway_sandbox.state.store import SandboxStore
from gateway_sandbox.user_api.caller import caller


class ProfileEndpoint:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    async def profile(self, request: Request) -> Response:
        user = caller(self.store, request, "profile", "openid").user
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
