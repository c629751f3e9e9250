"""Authenticating a request's ``Authorization: Bearer <service key>``."""

from __future__ import annotations

from starlette.requests import Request

from gateway.clients.credentials import bearer_credentials, missing_key, require_scope
from gateway.clients.store import Principal, authenticate
from gateway.resources import resources


def bearer_key(request: Request) -> str | None:
    return bearer_credentials(request.headers.get("authorization", ""))


async def require_client(request: Request, scope: str, *alternatives: str) -> Principal:
    """The calling service, which must hold ``scope`` or one of ``alternatives``; 401 or 403
    (naming ``scope``) otherwise."""
    key = bearer_key(request)
    if key is None:
        raise missing_key()
    principal = await resources(request).db.read(lambda session: authenticate(session, key))
    if principal is not None and not principal.scopes.isdisjoint(alternatives):
        return principal
    return require_scope(principal, scope)
