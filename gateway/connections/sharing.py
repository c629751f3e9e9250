"""Connections that hold grants for one provider account, and what revoking one of them does.

Several connections can hold grants for the same provider account (the same ``provider`` and
``subject``): two user ids connected to one account, or one account connected in a confined client's
own space and in the shared one. Each holds a grant of its own, so revoking one must not end the
others: its own grant's tokens are revoked (RFC 7009), and a provider's account-wide revocation
(Contio's admin API, which ends every grant of the user) is used only when no other active
connection holds the account. ``plan`` says which, and which other connections share the account,
before anything is done; ``lock_account`` holds the account still while a revocation decides.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.connections import queries
from gateway.exceptions import Conflict
from gateway.models import Connection, ConnectionStatus

# What a revocation does at the provider: nothing left to revoke; this grant's tokens only; or
# every grant of the account.
UpstreamMethod = Literal["none", "grant_tokens", "account_wide"]
LOCK_ATTEMPTS = 3


@dataclass(frozen=True)
class RevocationPlan:
    """What revoking ``connection`` does upstream, and the other connections of its account."""

    connection: Connection
    upstream: UpstreamMethod
    # Other unrevoked connections holding a grant for the same account, oldest first.
    sharing: tuple[Connection, ...]

    @property
    def ended(self) -> tuple[Connection, ...]:
        """The sharing connections whose grants the revocation ends as well."""
        return self.sharing if self.upstream == "account_wide" else ()


def plan(
    connection: Connection, sharing: Sequence[Connection], *, account_wide_available: bool
) -> RevocationPlan:
    """The account-wide revocation only when it is available and no sharing connection is active."""
    upstream: UpstreamMethod
    if connection.access_token is None and connection.refresh_token is None:
        upstream = "none"
    elif account_wide_available and not any(is_live(other) for other in sharing):
        upstream = "account_wide"
    else:
        upstream = "grant_tokens"
    return RevocationPlan(connection, upstream, tuple(sharing))


def is_live(connection: Connection) -> bool:
    """Holds a grant the provider honours, as far as the gateway knows."""
    return connection.status is ConnectionStatus.ACTIVE


async def sharing(
    session: AsyncSession, connection: Connection, *, for_update: bool = False
) -> list[Connection]:
    """The other unrevoked connections of ``connection``'s account, oldest first."""
    return _others(connection, await _account(session, connection, for_update=for_update))


async def lock_account(
    session: AsyncSession, connection_id: uuid.UUID
) -> tuple[Connection, list[Connection]]:
    """The connection and the other unrevoked connections of its account, every row of the
    account locked in id order (so two revocations on one account wait for each other instead of
    deadlocking). ``Conflict`` if the connection keeps changing accounts meanwhile."""
    for _ in range(LOCK_ATTEMPTS):
        connection = await queries.get(session, connection_id)
        rows = await _account(session, connection, for_update=True)
        locked = next((row for row in rows if row.id == connection_id), None)
        if locked is not None and locked.subject == connection.subject:
            return locked, _others(locked, rows)
    raise Conflict(
        "the connection changed accounts while it was being revoked; try again",
        code="connection_changed",
        details={"connection_id": str(connection_id)},
    )


def _others(connection: Connection, rows: Sequence[Connection]) -> list[Connection]:
    others = [
        row
        for row in rows
        if row.id != connection.id and row.status is not ConnectionStatus.REVOKED
    ]
    return sorted(others, key=lambda row: (row.created_at, row.id))


async def _account(
    session: AsyncSession, connection: Connection, *, for_update: bool
) -> Sequence[Connection]:
    statement = (
        select(Connection)
        .where(Connection.provider == connection.provider, Connection.subject == connection.subject)
        .order_by(Connection.id)
        .execution_options(populate_existing=True)
    )
    if for_update:
        statement = statement.with_for_update()
    return (await session.scalars(statement)).all()
