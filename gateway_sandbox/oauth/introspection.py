"""``POST /oauth2/introspect`` (RFC 7662), with the fields Contio's spec lists.

Refresh tokens can be introspected too; ``token_type`` tells them apart (``Bearer`` for access
tokens, ``refresh_token`` otherwise). A token of another client reads as inactive.
``ext.connection_id`` names the connection the token belongs to, as the admin API and the
``user.connection.revoked`` webhook do, so a client can match one to the other.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway_sandbox.errors import NO_STORE
from gateway_sandbox.oauth.client_auth import authenticate_token_client
from gateway_sandbox.oauth.discovery import issuer_for
from gateway_sandbox.oauth.forms import required_field
from gateway_sandbox.state.store import SandboxStore


class IntrospectionEndpoint:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    async def introspect(self, request: Request) -> Response:
        form = await request.form()
        client_id = await authenticate_token_client(request, form, self.store)
        live = self.store.find_live(required_field(form, "token"))
        if live is None or live.grant.client_id != client_id:
            return JSONResponse({"active": False}, headers=NO_STORE)
        token = live.token
        body = {
            "active": True,
            "scope": live.grant.scope,
            "client_id": live.grant.client_id,
            "username": live.user.email,
            "sub": str(live.user.id),
            "exp": int(token.expires_at),
            "iat": int(token.issued_at),
            "nbf": int(token.issued_at),
            "iss": issuer_for(request, self.store.options),
            "aud": [live.grant.client_id],
            "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
            "ext": {"connection_id": str(self.store.connection_id(live.user))},
        }
        return JSONResponse(body, headers=NO_STORE)
