"""``POST /oauth2/token``: the authorization code and refresh token grants.

Refresh tokens rotate: each refresh answers with a new refresh token and retires the one presented;
reusing a retired one is ``invalid_grant`` and revokes the grant (see ``state.store`` for the reasons).
Emulating a provider whose refresh tokens do not rotate (``rotate_refresh_tokens`` false), a refresh
answers with an access token only. Scopes are joined with the options' ``scope_separator``.
``client_credentials`` has no documented use at Contio and is answered ``unsupported_grant_type``
here; the sandbox's client-credentials provider has its own endpoint (``oauth.client_credentials``).

The fault switch is consulted before anything else (see ``faults``): a faulted request is counted
but never reaches the store, so it cannot consume a code or rotate a refresh token.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway_sandbox.errors import NO_STORE, OAuthError
from gateway_sandbox.instances import instance_url
from gateway_sandbox.jwt import SigningKey
from gateway_sandbox.oauth.client_auth import CHALLENGE, authenticate_token_client
from gateway_sandbox.oauth.discovery import issuer_for
from gateway_sandbox.oauth.forms import form_field, required_field
from gateway_sandbox.state.records import TokenSet
from gateway_sandbox.state.store import InvalidGrant, SandboxStore


class TokenEndpoint:
    def __init__(self, store: SandboxStore, signing_key: SigningKey) -> None:
        self.store = store
        self.options = store.options
        self.signing_key = signing_key

    async def token(self, request: Request) -> Response:
        form = await request.form()
        grant_type = form_field(form, "grant_type")
        self._count(grant_type)
        if (faulted := self.fault()) is not None:
            return faulted
        client_id = await authenticate_token_client(request, form, self.store)
        try:
            if grant_type == "authorization_code":
                tokens = self.store.redeem_code(
                    required_field(form, "code"),
                    client_id,
                    form_field(form, "redirect_uri"),
                    form_field(form, "code_verifier"),
                )
            elif grant_type == "refresh_token":
                tokens = self.store.refresh(required_field(form, "refresh_token"), client_id)
            elif grant_type is None:
                raise OAuthError("invalid_request", "grant_type is required.")
            else:
                raise OAuthError("unsupported_grant_type", f"Unsupported grant_type: {grant_type}")
        except InvalidGrant as exc:
            raise OAuthError("invalid_grant", str(exc)) from exc
        if grant_type == "refresh_token":
            self.store.counters.add("refresh_successes")
        body = self._body(request, tokens)
        if grant_type == "refresh_token" and not self.options.rotate_refresh_tokens:
            del body["refresh_token"]
        return JSONResponse(body, headers=NO_STORE)

    def _count(self, grant_type: str | None) -> None:
        self.store.counters.add("token_requests")
        if grant_type == "refresh_token":
            self.store.counters.add("refresh_calls")
        elif grant_type == "authorization_code":
            self.store.counters.add("code_exchanges")

    def fault(self) -> Response | None:
        """The answer a switched-on fault gives instead of the real one (latency is middleware)."""
        faults = self.store.faults.current()
        if faults.token_endpoint_down:
            raise OAuthError("temporarily_unavailable", "The token endpoint is down.", 503)
        if faults.invalid_client:
            raise OAuthError("invalid_client", "Client authentication failed.", 401, CHALLENGE)
        if faults.rate_limited:
            # Contio's rate limiter (AWS WAF) answers with this bare body, not the OAuth error shape.
            body = {"error": "rate_limit_exceeded", "error_description": "Too many requests."}
            headers = {**NO_STORE, "Retry-After": str(faults.retry_after)}
            return JSONResponse(body, 429, headers=headers)
        if self.store.faults.draw_error():
            raise OAuthError("temporarily_unavailable", "The token endpoint failed.", 503)
        return None

    def _body(self, request: Request, tokens: TokenSet) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": tokens.access_token.token,
            "token_type": "Bearer",
            "expires_in": self.options.access_token_ttl,
            "refresh_token": tokens.refresh_token.token,
            "scope": self.options.scope_separator.join(tokens.grant.scopes),
        }
        if "openid" in tokens.grant.scopes:
            body["id_token"] = self._id_token(request, tokens)
        if (instance := instance_url(request, self.store)) is not None:
            body["instance_url"] = instance
        return body

    def _id_token(self, request: Request, tokens: TokenSet) -> str:
        issued_at = int(tokens.access_token.issued_at)
        claims: dict[str, Any] = {
            "iss": issuer_for(request, self.options),
            "sub": str(tokens.user.id),
            "aud": tokens.grant.client_id,
            "exp": issued_at + self.options.access_token_ttl,
            "iat": issued_at,
            "email": tokens.user.email,
            "email_verified": True,
            "name": tokens.user.name,
            "auth_time": self.store.sign_ins.auth_time(tokens.user.email),
        }
        if (groups := self.store.sign_ins.groups(tokens.user.email)) is not None:
            claims["groups"] = list(groups)
        if tokens.nonce is not None:  # only the first ID token of a grant (OIDC Core §12.2)
            claims["nonce"] = tokens.nonce
        return self.signing_key.sign(_faulted(claims, self.store.faults.current().id_token_fault))


def _faulted(claims: dict[str, Any], fault: str) -> dict[str, Any]:
    """``claims`` made wrong as the ``id_token_fault`` switch says (see ``faults``)."""
    if fault == "issuer":
        return {**claims, "iss": f"{claims['iss']}/elsewhere"}
    if fault == "audience":
        return {**claims, "aud": "another-client"}
    if fault == "nonce":
        return {**claims, "nonce": "not-the-nonce-sent"}
    if fault == "expired":
        return {**claims, "iat": claims["iat"] - 7200, "exp": claims["iat"] - 3600}
    return claims
