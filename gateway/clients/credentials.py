"""A service key from an ``Authorization: Bearer`` header, and the client it names held to a scope.

Shared by the API's endpoints (``auth``, which look the key up in the database) and the proxy
(``proxy.admission``, which looks it up in its cache): one reading of the header, one set of
refusals.
"""

from __future__ import annotations

from gateway.clients.store import Principal
from gateway.exceptions import Forbidden, Unauthorized


def bearer_credentials(authorization: str) -> str | None:
    """The key in an ``Authorization`` header's value, or None when it holds no bearer key."""
    scheme, _, credentials = authorization.partition(" ")
    key = credentials.strip()
    if scheme.lower() != "bearer" or not key:
        return None
    return key


def missing_key() -> Unauthorized:
    return Unauthorized("send your service key as Authorization: Bearer <key>")


def invalid_key() -> Unauthorized:
    return Unauthorized("the service key is not valid")


def require_scope(principal: Principal | None, scope: str) -> Principal:
    """The client a key named, which must hold ``scope``; 401 for no client, 403 for no scope."""
    if principal is None:
        raise invalid_key()
    if scope not in principal.scopes:
        raise insufficient_scope(scope)
    return principal


def insufficient_scope(scope: str) -> Forbidden:
    return Forbidden(
        f"this service key lacks the {scope!r} scope",
        code="insufficient_scope",
        details={"required_scope": scope},
    )
