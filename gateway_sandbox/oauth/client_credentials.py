"""The client-credentials provider beside Contio: ``POST /app/oauth2/token`` (RFC 6749 §4.4) and
``POST /app/oauth2/revoke`` (RFC 7009), and the app-level API its tokens call, ``GET
/app/v1/whoami``.

The token endpoint takes ``grant_type=client_credentials`` with the registered client's
credentials (Basic or in the form, as at ``/oauth2/token``), an optional ``scope`` (default
``app:read``), ``audience`` and any number of ``resource`` URIs (RFC 8707: absolute, no fragment,
else ``invalid_target``). The password grant is ``unsupported_grant_type``. The answer has no
refresh token; the token lives ``access_token_ttl`` seconds. The fault switch applies as at
Contio's token endpoint (``invalid_client``, down, rate limited).

``/app/v1/whoami`` answers what the bearer token was issued with, or 401 ``invalid_token``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway_sandbox.errors import NO_STORE, ApiError, OAuthError
from gateway_sandbox.oauth.bearer import bearer_token, challenge
from gateway_sandbox.oauth.client_auth import authenticate_client
from gateway_sandbox.oauth.forms import form_field
from gateway_sandbox.oauth.token_endpoint import TokenEndpoint
from gateway_sandbox.state.app_tokens import AppTokens
from gateway_sandbox.state.store import SandboxStore

APP = "/app"
DEFAULT_SCOPES = ("app:read",)


class ClientCredentialsEndpoints:
    def __init__(self, store: SandboxStore, token_endpoint: TokenEndpoint) -> None:
        self.store = store
        self.options = store.options
        self.token_endpoint = token_endpoint
        self.tokens = AppTokens(store.now, store.options.access_token_ttl)

    async def token(self, request: Request) -> Response:
        form = await request.form()
        self.store.counters.add("token_requests")
        self.store.counters.add("client_credentials_exchanges")
        if (faulted := self.token_endpoint.fault()) is not None:
            return faulted
        client_id = authenticate_client(request, form, self.options)
        grant_type = form_field(form, "grant_type")
        if grant_type is None:
            raise OAuthError("invalid_request", "grant_type is required.")
        if grant_type == "password":
            raise OAuthError(
                "unsupported_grant_type", "The password grant is not offered (RFC 9700)."
            )
        if grant_type != "client_credentials":
            raise OAuthError("unsupported_grant_type", f"Unsupported grant_type: {grant_type}")
        scopes = tuple((form_field(form, "scope") or "").split()) or DEFAULT_SCOPES
        resources = tuple(value for value in form.getlist("resource") if isinstance(value, str))
        for resource in resources:
            parts = urlsplit(resource)
            if not parts.scheme or not parts.netloc or "#" in resource:
                raise OAuthError("invalid_target", "resource must be an absolute URI.")
        issued = self.tokens.issue(client_id, scopes, form_field(form, "audience"), resources)
        body = {
            "access_token": issued.token,
            "token_type": "Bearer",
            "expires_in": self.options.access_token_ttl,
            "scope": " ".join(scopes),
        }
        return JSONResponse(body, headers=NO_STORE)

    async def revoke(self, request: Request) -> Response:
        form = await request.form()
        authenticate_client(request, form, self.options)
        self.store.counters.add("revocations")
        token = form_field(form, "token")
        if token is None:
            raise OAuthError("invalid_request", "token is required.")
        self.tokens.revoke(token)  # RFC 7009 §2.2: unknown tokens are answered 200 too
        return Response(status_code=200, headers=NO_STORE)

    async def whoami(self, request: Request) -> Response:
        token = bearer_token(request)
        issued = self.tokens.live(token) if token is not None else None
        if issued is None:
            description = "The access token is invalid or expired."
            raise ApiError(
                401, "invalid_token", description, challenge("invalid_token", description)
            )
        return JSONResponse(
            {
                "client_id": issued.client_id,
                "scopes": list(issued.scopes),
                "audience": issued.audience,
                "resources": list(issued.resources),
                "expires_at": int(issued.expires_at),
            }
        )
