"""Reading and writing connections. Token columns are sealed, bound to their row; callers own the
transaction. Every write of the token columns bumps ``token_version``."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.connections.errors import (
    ConnectionConflict,
    ConnectionRevoked,
    IdentityMismatch,
    credentials_unreadable,
)
from gateway.kit.clock import utcnow
from gateway.kit.crypto import Binding, DecryptionError, KeyRing
from gateway.models import Connection, ConnectionStatus
from gateway.providers.token_response import TokenSet
from gateway.settings import Settings
from gateway.tokens import schedule

TABLE = "connections"


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


def access_token(keys: KeyRing, connection: Connection) -> str:
    if connection.access_token is None:
        # Only revocation erases the ciphertexts (a caller may hold a row read before it).
        raise ConnectionRevoked(
            "the connection was revoked", details={"connection_id": str(connection.id)}
        )
    return _open(keys, connection, connection.access_token, "access_token")


def erase_tokens(connection: Connection) -> None:
    """Forget the ciphertexts and their expiries (revocation: no token is left to expire); a token
    write like any other, so it bumps the version."""
    connection.access_token = None
    connection.refresh_token = None
    connection.expires_at = None
    connection.refresh_token_expires_at = None
    connection.token_version += 1


def refresh_token(keys: KeyRing, connection: Connection) -> str | None:
    if connection.refresh_token is None:
        return None
    return _open(keys, connection, connection.refresh_token, "refresh_token")


def _open(keys: KeyRing, connection: Connection, sealed: str, column: str) -> str:
    """The plaintext, or CredentialsUnreadable: a value sealed for another row, under a key the ring
    no longer has, or tampered with. Which of these it was is not said beyond the key id."""
    try:
        return keys.open(sealed, _binding(connection.id, column))
    except DecryptionError as exc:
        raise credentials_unreadable(connection, sealed_key_id(sealed)) from exc


def sealed_key_id(sealed: str) -> str | None:
    """The key id a sealed value names, if it is well formed."""
    try:
        key_id = KeyRing.key_id_of(sealed)
    except DecryptionError:
        return None
    return key_id[:64]


def in_space(user_id: str, provider: str, space: uuid.UUID | None) -> Select[Any]:
    """The user's connection to the provider in ``space`` (None: the shared space)."""
    return select(Connection).where(
        Connection.user_id == user_id,
        Connection.provider == provider,
        Connection.confined_to_client_id.is_(None)
        if space is None
        else Connection.confined_to_client_id == space,
    )


async def find(
    session: AsyncSession,
    user_id: str,
    provider: str,
    space: uuid.UUID | None,
    *,
    lock: bool = False,
) -> Connection | None:
    statement = in_space(user_id, provider, space)
    found: Connection | None = await session.scalar(
        statement.with_for_update() if lock else statement
    )
    return found


async def save_grant(
    session: AsyncSession,
    keys: KeyRing,
    *,
    user_id: str,
    provider: str,
    subject: str,
    tokens: TokenSet,
    client_id: uuid.UUID | None,
    settings: Settings,
    replace_identity: bool = False,
    owner: uuid.UUID | None = None,
    space: uuid.UUID | None = None,
) -> tuple[Connection, bool]:
    """Create the one connection for (user, provider) in ``space``, or replace its grant after a
    re-connect. A new connection records ``client_id`` as its creator and belongs to ``owner``
    (None: ``operator``); an existing one keeps its owner. Whether the caller may change it is the
    caller's to check (``ownership``).

    Returns the connection and whether it is new. Takes the row lock, so a refresh in flight cannot
    write older tokens over these (its compare-and-swap on ``token_version`` fails). A re-connect as
    a different provider account raises IdentityMismatch unless ``replace_identity`` is set.
    """
    now = utcnow()
    connection = await find(session, user_id, provider, space, lock=True)
    if connection is None:
        connection = Connection(
            id=uuid.uuid4(),
            user_id=user_id,
            provider=provider,
            created_by_client_id=client_id,
            owner_client_id=owner,
            confined_to_client_id=space,
            token_version=1,
        )
        session.add(connection)
        created = True
    else:
        if connection.subject != subject and not replace_identity:
            raise IdentityMismatch(
                "the user signed in as a different account than the one already connected",
                details={"connection_id": str(connection.id)},
            )
        created = False
        connection.token_version += 1
        connection.refresh_token = None
        connection.provider_connection_id = None  # a new grant: learned again when needed
    connection.subject = subject
    connection.status = ConnectionStatus.ACTIVE
    lifetime = tokens.expires_in or settings.default_token_lifetime_seconds
    connection.expires_at = now + timedelta(seconds=lifetime)
    connection.token_lifetime_seconds = lifetime
    connection.next_refresh_at = schedule.next_refresh_at(now, lifetime, settings)
    connection.last_refresh_error = None
    connection.consecutive_failures = 0
    connection.scopes = list(tokens.scopes) if tokens.scopes is not None else None
    connection.connected_at = now
    seal_tokens(keys, connection, tokens)
    try:
        await session.flush()
    except IntegrityError as exc:
        if not created:
            raise
        # Both flows found no connection and inserted one; the other committed first.
        raise ConnectionConflict(
            "another flow connected this user at the same moment; try again",
            details={"user_id": user_id, "provider": provider},
        ) from exc
    return connection, created
