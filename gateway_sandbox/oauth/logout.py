"""``GET /oauth2/logout``: the sandbox's ``end_session_endpoint`` (OpenID Connect RP-Initiated Logout).

It ends the browser's session at the sandbox (``sandbox_sign_in``) and every session of the user that
the ``id_token_hint`` names (an ID token the sandbox signed, expired or not), then sends the browser
to ``post_logout_redirect_uri`` with the ``state`` it was given. That URI must be on the origin of a
registered redirect URI (a provider registers logout URIs with the client; the sandbox's one client
has its redirect URIs only) and needs ``client_id`` or a hint to say whose it is; otherwise, or
without one, a page says the user is signed out. Each logout counts in ``end_sessions``.
"""

from __future__ import annotations

from urllib.parse import urlsplit
from uuid import UUID

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway_sandbox.errors import NO_STORE
from gateway_sandbox.jwt import SigningKey
from gateway_sandbox.oauth import pages
from gateway_sandbox.oauth.authorize import SIGN_IN_COOKIE
from gateway_sandbox.state.store import SandboxStore


class LogoutEndpoint:
    def __init__(self, store: SandboxStore, signing_key: SigningKey) -> None:
        self.store = store
        self.options = store.options
        self._keys = KeySet.import_key_set(signing_key.jwks())  # type: ignore[arg-type]

    async def logout(self, request: Request) -> Response:
        params = request.query_params
        hint = params.get("id_token_hint")
        claims = self._hinted(hint) if hint else None
        if hint and claims is None:
            return pages.error_page("Logout refused", "The id_token_hint was not issued here.")
        client_id = params.get("client_id") or (claims or {}).get("aud")
        if client_id is not None and client_id != self.options.client_id:
            return pages.error_page("Logout refused", "The client_id is not registered here.")
        user = self._user(claims)
        self.store.sign_ins.end(request.cookies.get(SIGN_IN_COOKIE), user)
        self.store.counters.add("end_sessions")
        target = params.get("post_logout_redirect_uri")
        if target and client_id is not None and self._registered_origin(target):
            url = URL(target)
            if state := params.get("state"):
                url = url.include_query_params(state=state)
            response: Response = RedirectResponse(str(url), status_code=302, headers=NO_STORE)
        else:
            response = pages.error_page("Signed out", "You are signed out of the sandbox.", 200)
        response.delete_cookie(SIGN_IN_COOKIE)
        return response

    def _hinted(self, hint: str) -> dict[str, object] | None:
        try:
            return dict(jwt.decode(hint, self._keys, algorithms=["RS256"]).claims)
        except (JoseError, ValueError, TypeError, KeyError):
            return None

    def _user(self, claims: dict[str, object] | None) -> str | None:
        try:
            user = self.store.user_by_id(UUID(str((claims or {}).get("sub"))))
        except ValueError:
            return None
        return user.email if user is not None else None

    def _registered_origin(self, uri: str) -> bool:
        def origin(value: str) -> tuple[str, str]:
            parts = urlsplit(value)
            return parts.scheme, parts.netloc

        return origin(uri) in {origin(registered) for registered in self.options.redirect_uris}
