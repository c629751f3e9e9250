"""Finding a user's connections and keeping a new grant as one of them; callers own the
transaction. The grant itself is written by ``tokens.grant``.

A user may have several connections to a provider in a space; one of them is the *default*, the one
a flow re-connects and ``/proxy/users/{user_id}/...`` uses (``find``). A flow that asks for an
``additional`` connection creates another one, which is the default only when the space holds none.
No provider account is connected twice for one user in one space unless the flow says it may
(``allow_duplicate_account``).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.connections.errors import (
    AdditionalConnectionsUnavailable,
    ConnectionConflict,
    DuplicateAccount,
    IdentityMismatch,
)
from gateway.kit.clock import utcnow
from gateway.kit.crypto import KeyRing
from gateway.models import Connection, ConnectionStatus
from gateway.providers.token_response import TokenSet
from gateway.settings import Settings
from gateway.tokens import grant

# The one-connection-per-(user, provider, space) constraint, dropped by the contract step
# (migrations/versions/20261207_contract.py); while it stands, only a default can be inserted.
ONE_PER_SPACE = "uq_connections_user_id_provider_confined_to_client_id"


def in_space(user_id: str, provider: str, space: uuid.UUID | None) -> Select[Any]:
    """The user's connections to the provider in ``space`` (None: the shared space)."""
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
    """The user's default connection to the provider in ``space``, if there is one."""
    statement = in_space(user_id, provider, space).where(Connection.is_default)
    found: Connection | None = await session.scalar(
        statement.with_for_update() if lock else statement
    )
    return found


async def holding(
    session: AsyncSession, user_id: str, provider: str, space: uuid.UUID | None, subject: str
) -> Connection | None:
    """A connection of the user in ``space`` (revoked ones aside) to the provider account
    ``subject``, if there is one."""
    found: Connection | None = await session.scalar(
        in_space(user_id, provider, space)
        .where(Connection.subject == subject, Connection.status != ConnectionStatus.REVOKED)
        .order_by(Connection.created_at)
        .limit(1)
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
    additional: bool = False,
    allow_duplicate_account: bool = False,
) -> tuple[Connection, bool]:
    """Keep the grant as the user's default connection to the provider in ``space`` (created, or
    its grant replaced: a re-connect), or, with ``additional``, as a new connection beside it. A
    new connection records ``client_id`` as its creator and belongs to ``owner`` (None:
    ``operator``); an existing one keeps its owner. Whether the caller may change it is the
    caller's to check (``ownership``).

    Returns the connection and whether it is new. Takes the default's row lock, so a refresh in
    flight cannot write older tokens over these (its compare-and-swap on ``token_version`` fails)
    and flows for the same user, provider and space store one after the other. Refused with:
    IdentityMismatch when a re-connect signs in as another account and ``replace_identity`` is
    not set; DuplicateAccount when another connection of the user in the space holds the account
    and ``allow_duplicate_account`` is not set; AdditionalConnectionsUnavailable when an
    additional connection meets the constraint of before the contract step.
    """
    default = await find(session, user_id, provider, space, lock=True)
    connection = None if additional else default
    if connection is not None and connection.subject != subject and not replace_identity:
        raise IdentityMismatch(
            "the user signed in as a different account than the one already connected",
            details={"connection_id": str(connection.id)},
        )
    if not allow_duplicate_account and (connection is None or connection.subject != subject):
        held = await holding(session, user_id, provider, space, subject)
        if held is not None:
            raise DuplicateAccount(
                "this provider account is already connected for this user; ask with "
                '"allow_duplicate_account": true to connect it again',
                details={"connection_id": str(held.id)},
            )
    created = connection is None
    if connection is None:
        connection = Connection(
            id=uuid.uuid4(),
            user_id=user_id,
            provider=provider,
            created_by_client_id=client_id,
            owner_client_id=owner,
            confined_to_client_id=space,
            token_version=0,
            is_default=default is None,
        )
        session.add(connection)
    else:
        # A new grant: nothing of the previous one survives it.
        connection.refresh_token = None
        connection.scopes = None
        connection.provider_connection_id = None  # learned again when needed
    beside_default = created and default is not None
    now = utcnow()
    connection.subject = subject
    connection.status = ConnectionStatus.ACTIVE
    if tokens.settings:  # checked by the flow (``connect.grants.check_settings``)
        connection.provider_settings = dict(tokens.settings)
    connection.connected_at = now
    lifetime = tokens.expires_in or settings.default_token_lifetime_seconds
    grant.write(keys, connection, tokens, lifetime=lifetime, now=now, settings=settings)
    try:
        await session.flush()
    except IntegrityError as exc:
        if not created:
            raise
        if beside_default and violated(exc) == ONE_PER_SPACE:
            raise AdditionalConnectionsUnavailable(
                details={"user_id": user_id, "provider": provider}
            ) from exc
        # Both flows found no default and inserted one; the other committed first.
        raise ConnectionConflict(
            "another flow connected this user at the same moment; try again",
            details={"user_id": user_id, "provider": provider},
        ) from exc
    return connection, created


def violated(exc: IntegrityError) -> str | None:
    """The name of the constraint ``exc`` reports (asyncpg's error is the DBAPI error's cause)."""
    cause = exc.orig.__cause__ if exc.orig is not None else None
    name = getattr(cause, "constraint_name", None)
    return name if isinstance(name, str) else None
