"""``POST /oauth2/revoke`` (RFC 7009).

Revoking a refresh token revokes its whole grant, access tokens included; revoking an access token
ends that token only. Unknown, already revoked or expired tokens are answered 200 all the same.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway_sandbox.errors import NO_STORE
from gateway_sandbox.oauth.client_auth import authenticate_token_client
from gateway_sandbox.oauth.forms import required_field
from gateway_sandbox.state.store import SandboxStore


class RevocationEndpoint:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    async def revoke(self, request: Request) -> Response:
        form = await request.form()
        client_id = await authenticate_token_client(request, form, self.store)
        self.store.counters.add("revocations")
        # token_type_hint only speeds up a lookup (RFC 7009 §2.1); one table needs no hint.
        self.store.revoke_token(required_field(form, "token"), client_id)
        return Response(status_code=200, headers=NO_STORE)
