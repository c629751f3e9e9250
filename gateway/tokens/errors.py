"""Why a connection's grant cannot be used right now, in the gateway's error tree."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from gateway.exceptions import Conflict, CredentialsUnreadable, Gone
from gateway.models import ConnectionStatus


class Standing(Protocol):
    """What ``ensure_usable`` reads of a connection: the ORM's ``Connection``, or a reader's record
    of the same columns (the proxy's, ``proxy.loader.ProxiedConnection``)."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def status(self) -> ConnectionStatus: ...

    @property
    def last_refresh_error(self) -> dict[str, Any] | None: ...


class ReauthRequired(Conflict):
    """Raised when the user's grant is gone: they must connect again."""

    code = "reauth_required"


class ConnectionRevoked(Gone):
    """Raised when the connection was revoked (by an operator, the user or the provider)."""

    code = "connection_revoked"


def ensure_usable(connection: Standing) -> None:
    """Raise unless the connection is active."""
    details = {"connection_id": str(connection.id)}
    if connection.status is ConnectionStatus.NEEDS_REAUTH:
        raise ReauthRequired(
            "the user must connect again before their account can be used", details=details
        )
    if connection.status is ConnectionStatus.REVOKED:
        raise ConnectionRevoked("the connection was revoked", details=details)
    if connection.status is ConnectionStatus.CREDENTIALS_UNREADABLE:
        marked = connection.last_refresh_error or {}
        key_id = marked.get("key_id")
        raise credentials_unreadable(connection.id, key_id if isinstance(key_id, str) else None)


def credentials_unreadable(
    connection_id: uuid.UUID, key_id: str | None = None
) -> CredentialsUnreadable:
    details = {"connection_id": str(connection_id)}
    if key_id is not None:
        details["key_id"] = key_id
    return CredentialsUnreadable(
        "the connection's stored tokens cannot be decrypted with the gateway's keys; the user must "
        "connect again, or an operator must restore the key",
        details=details,
    )
