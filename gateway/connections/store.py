"""Finding connections and keeping a new grant as the connection of (user, provider) in a space;
callers own the transaction. The grant itself is written by ``tokens.grant``."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.connections.errors import ConnectionConflict, IdentityMismatch
from gateway.kit.clock import utcnow
from gateway.kit.crypto import KeyRing
from gateway.models import Connection, ConnectionStatus
from gateway.providers.token_response import TokenSet
from gateway.settings import Settings
from gateway.tokens import grant


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
    connection = await find(session, user_id, provider, space, lock=True)
    if connection is None:
        connection = Connection(
            id=uuid.uuid4(),
            user_id=user_id,
            provider=provider,
            created_by_client_id=client_id,
            owner_client_id=owner,
            confined_to_client_id=space,
            token_version=0,
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
        # A new grant: nothing of the previous one survives it.
        connection.refresh_token = None
        connection.scopes = None
        connection.provider_connection_id = None  # learned again when needed
    now = utcnow()
    connection.subject = subject
    connection.status = ConnectionStatus.ACTIVE
    connection.connected_at = now
    lifetime = tokens.expires_in or settings.default_token_lifetime_seconds
    grant.write(keys, connection, tokens, lifetime=lifetime, now=now, settings=settings)
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
