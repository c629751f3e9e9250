"""Authenticating a request's ``Authorization: Bearer <service key>``."""

from __future__ import annotations

from starlette.requests import Request

from gateway.clients.credentials import (
    bearer_credentials,
    invalid_key,
    missing_key,
    require_scope,
)
from gateway.clients.store import Principal, authenticate
from gateway.resources import resources


def bearer_key(request: Request) -> str | None:
    return bearer_credentials(request.headers.get("authorization", ""))


async def authenticated(request: Request) -> Principal:
    """The calling service, whatever its scopes; 401 without a valid key."""
    key = bearer_key(request)
    if key is None:
        raise missing_key()
    principal = await resources(request).db.read(lambda session: authenticate(session, key))
    if principal is None:
        raise invalid_key()
    return principal


async def require_client(request: Request, scope: str) -> Principal:
    """The calling service, which must hold ``scope``; 401 or 403 (naming ``scope``) otherwise."""
    return require_scope(await authenticated(request), scope)
