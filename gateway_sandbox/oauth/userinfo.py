"""``GET /oauth2/userInfo`` (OIDC Core §5.3): needs an access token granted ``openid profile``."""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway_sandbox.errors import NO_STORE, OAuthError
from gateway_sandbox.oauth.bearer import bearer_token, challenge
from gateway_sandbox.state.store import SandboxStore


class UserInfoEndpoint:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    async def userinfo(self, request: Request) -> Response:
        token = bearer_token(request)
        live = self.store.authenticate(token) if token else None
        if live is None:
            description = "The access token is missing, invalid, expired or revoked."
            raise OAuthError(
                "invalid_token", description, 401, challenge("invalid_token", description)
            )
        if not {"openid", "profile"} <= set(live.grant.scopes):
            description = "The access token needs the openid and profile scopes."
            headers = challenge("insufficient_scope", description, "openid profile")
            raise OAuthError("insufficient_scope", description, 403, headers)
        user = live.user
        avatar = hashlib.sha256(user.email.encode()).hexdigest()
        body: dict[str, object] = {
            "sub": str(user.id),
            "email": user.email,
            "email_verified": True,
            "name": user.name,
            "given_name": user.given_name,
            "family_name": user.family_name,
            "picture": f"https://www.gravatar.com/avatar/{avatar}?d=identicon",
            "locale": user.locale,
            "phone_number": None,
            "phone_number_verified": False,
        }
        if (groups := self.store.sign_ins.groups(user.email)) is not None:
            body["groups"] = list(groups)
        return JSONResponse(body, headers=NO_STORE)
