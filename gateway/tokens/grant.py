"""A grant on a connection: its tokens (or a stored credential) sealed into the connection's
columns (bound to the row, so a value copied onto another row does not open), read back, erased,
and written with the expiry and refresh schedule that go with them. Every write of the token columns bumps ``token_version``;
callers own the transaction."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Protocol, cast

from gateway.kit.crypto import Binding, DecryptionError, KeyRing
from gateway.models import Connection
from gateway.providers.credential_profile import CredentialKind, StoredCredential
from gateway.providers.token_response import TokenSet
from gateway.settings import Settings
from gateway.tokens import schedule
from gateway.tokens.errors import ConnectionRevoked, credentials_unreadable

TABLE = "connections"
# The columns ``write`` sets: what a refresh that wins its compare-and-swap stores.
WRITTEN = (
    "access_token",
    "refresh_token",
    "token_version",
    "expires_at",
    "token_lifetime_seconds",
    "next_refresh_at",
    "last_refresh_error",
    "consecutive_failures",
    "scopes",
)


def write(
    keys: KeyRing,
    connection: Connection,
    tokens: TokenSet,
    *,
    lifetime: int,
    now: datetime,
    settings: Settings,
) -> None:
    """Put ``tokens`` (living ``lifetime`` seconds from ``now``) on ``connection``: sealed, a new
    version, their expiry, the next refresh, and no failure on record. Scopes the provider did not
    name stay as they were."""
    seal_tokens(keys, connection, tokens)
    connection.token_version += 1
    connection.expires_at = now + timedelta(seconds=lifetime)
    connection.token_lifetime_seconds = lifetime
    connection.next_refresh_at = schedule.next_refresh_at(now, lifetime, settings)
    connection.last_refresh_error = None
    connection.consecutive_failures = 0
    if tokens.scopes is not None:
        connection.scopes = list(tokens.scopes)


class Sealed(Protocol):
    """What opening a connection's credential reads of it: the ORM's ``Connection``, or a reader's
    record of the same columns (the proxy's, ``proxy.loader.ProxiedConnection``)."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def auth_mode(self) -> str: ...

    @property
    def access_token(self) -> str | None: ...

    @property
    def credential(self) -> str | None: ...


def _binding(connection_id: uuid.UUID, column: str) -> Binding:
    return Binding(TABLE, column, str(connection_id))


def seal_tokens(keys: KeyRing, connection: Connection, tokens: TokenSet) -> None:
    connection.access_token = keys.seal(
        tokens.access_token.get_secret_value(), _binding(connection.id, "access_token")
    )
    if tokens.refresh_token is not None:
        # A provider that does not rotate refresh tokens sends none back: keep the one we have.
        connection.refresh_token = keys.seal(
            tokens.refresh_token.get_secret_value(), _binding(connection.id, "refresh_token")
        )


def access_token(keys: KeyRing, connection: Sealed) -> str:
    if connection.access_token is None:
        # Only revocation erases the ciphertexts (a caller may hold a row read before it).
        raise ConnectionRevoked(
            "the connection was revoked", details={"connection_id": str(connection.id)}
        )
    return _open(keys, connection, connection.access_token, "access_token")


def write_credential(keys: KeyRing, connection: Connection, credential: StoredCredential) -> None:
    """Put a stored credential on ``connection``, sealed, as its only credential: no tokens, no
    expiry, nothing to refresh (``next_refresh_at`` stays empty, so the refresher never picks it).
    A token write, so it bumps the version."""
    connection.auth_mode = credential.kind
    connection.credential = keys.seal(credential.plaintext(), _binding(connection.id, "credential"))
    connection.access_token = None
    connection.refresh_token = None
    connection.expires_at = None
    connection.refresh_token_expires_at = None
    connection.token_lifetime_seconds = None
    connection.next_refresh_at = None
    connection.last_refresh_error = None
    connection.consecutive_failures = 0
    connection.token_version += 1


def stored_credential(keys: KeyRing, connection: Sealed) -> StoredCredential:
    """The connection's stored credential, opened; ConnectionRevoked once it was erased."""
    if connection.credential is None:
        raise ConnectionRevoked(
            "the connection was revoked", details={"connection_id": str(connection.id)}
        )
    kind = cast(CredentialKind, connection.auth_mode)
    return StoredCredential.opened(
        kind, _open(keys, connection, connection.credential, "credential")
    )


def erase_tokens(connection: Connection) -> None:
    """Forget the ciphertexts (tokens, or a stored credential) and their expiries (revocation:
    nothing is left to expire); a token write like any other, so it bumps the version."""
    connection.access_token = None
    connection.refresh_token = None
    connection.credential = None
    connection.expires_at = None
    connection.refresh_token_expires_at = None
    connection.token_version += 1


def refresh_token(keys: KeyRing, connection: Connection) -> str | None:
    if connection.refresh_token is None:
        return None
    return _open(keys, connection, connection.refresh_token, "refresh_token")


def _open(keys: KeyRing, connection: Sealed, sealed: str, column: str) -> str:
    """The plaintext, or CredentialsUnreadable: a value sealed for another row, under a key the ring
    no longer has, or tampered with. Which of these it was is not said beyond the key id."""
    try:
        return keys.open(sealed, _binding(connection.id, column))
    except DecryptionError as exc:
        raise credentials_unreadable(connection.id, sealed_key_id(sealed)) from exc


def sealed_key_id(sealed: str) -> str | None:
    """The key id a sealed value names, if it is well formed."""
    try:
        key_id = KeyRing.key_id_of(sealed)
    except DecryptionError:
        return None
    return key_id[:64]
