"""Why a connection cannot be used right now, in the gateway's error tree."""

from __future__ import annotations

from gateway.exceptions import Conflict, Forbidden, Gone, NotFound
from gateway.models import Connection, ConnectionStatus


class ConnectionNotFound(NotFound):
    """Raised when no connection has the given id (a malformed id included)."""

    code = "connection_not_found"


class ReauthRequired(Conflict):
    """Raised when the user's grant is gone: they must connect again."""

    code = "reauth_required"


class ConnectionConflict(Conflict):
    """Raised when another flow created the same connection (user, provider, space) at the same
    moment; nothing of this flow is stored, and trying again finds that connection."""

    code = "connection_conflict"


class IdentityMismatch(Conflict):
    """Raised when a re-connect signs in as a different provider account than the one on record."""

    code = "identity_mismatch"


class CredentialsUnreadable(Conflict):
    """Raised when the connection's sealed tokens do not open with the key ring.

    A 409 like ``reauth_required``: the stored state, not the request, is what is wrong, retrying does
    not help, and a re-connect (or an operator restoring the key) ends it. Its details name the
    connection and at most the id of the key the value says it was sealed under, nothing else.
    """

    code = "credentials_unreadable"


class ConnectionOwnedByOtherClient(Conflict):
    """Raised when a client would change a connection another client (or ``operator``) owns."""

    code = "connection_owned_by_other_client"


class UserNotAllowed(Forbidden):
    """Raised when a client's ``user_pattern`` does not admit the user id it acts for."""

    code = "user_not_allowed"


class TransferConflict(Conflict):
    """Raised when the target's space already holds a connection for the user and provider."""

    code = "transfer_conflict"


class ConnectionRevoked(Gone):
    """Raised when the connection was revoked (by an operator, the user or the provider)."""

    code = "connection_revoked"


def ensure_usable(connection: Connection) -> None:
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
        raise credentials_unreadable(connection, key_id if isinstance(key_id, str) else None)


def credentials_unreadable(
    connection: Connection, key_id: str | None = None
) -> CredentialsUnreadable:
    details = {"connection_id": str(connection.id)}
    if key_id is not None:
        details["key_id"] = key_id
    return CredentialsUnreadable(
        "the connection's stored tokens cannot be decrypted with the gateway's keys; the user must "
        "connect again, or an operator must restore the key",
        details=details,
    )
