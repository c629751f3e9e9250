"""Authenticating a request's ``Authorization: Bearer <service key>``."""

from __future__ import annotations

from starlette.requests import Request

from gateway.clients.store import Principal, authenticate
from gateway.exceptions import Forbidden, Unauthorized
from gateway.resources import resources


def bearer_key(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


async def require_client(request: Request, scope: str) -> Principal:
    """The calling service, which must hold ``scope``; 401 or 403 otherwise."""
    key = bearer_key(request)
    if key is None:
        raise Unauthorized("send your service key as Authorization: Bearer <key>")
    async with resources(request).db.transaction() as session:
        principal = await authenticate(session, key)
    if principal is None:
        raise Unauthorized("the service key is not valid")
    if scope not in principal.scopes:
        raise Forbidden(
            f"this service key lacks the {scope!r} scope",
            code="insufficient_scope",
            details={"required_scope": scope},
        )
    return principal
