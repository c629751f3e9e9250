"""Finding connections for the admin API and the CLI. Callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.connections.errors import ConnectionNotFound
from gateway.kit.pagination import Page, keyset_page
from gateway.models import Connection, ConnectionStatus

LISTING = "connections"
STATUSES = tuple(status.value for status in ConnectionStatus)


def parse_id(text: str) -> uuid.UUID:
    """A connection id from a path or an argument; a malformed one names no connection (404)."""
    try:
        return uuid.UUID(text)
    except ValueError as exc:
        raise not_found(text[:64]) from exc


def not_found(connection_id: object) -> ConnectionNotFound:
    return ConnectionNotFound(
        f"no connection has the id {str(connection_id)!r}",
        details={"connection_id": str(connection_id)},
    )


async def get(
    session: AsyncSession, connection_id: uuid.UUID, *, for_update: bool = False
) -> Connection:
    """The connection, read afresh (never a stale copy from the session); ConnectionNotFound else."""
    connection = await session.get(
        Connection, connection_id, with_for_update=for_update, populate_existing=True
    )
    if connection is None:
        raise not_found(connection_id)
    return connection


async def of_user(
    session: AsyncSession, user_id: str, provider: str | None = None
) -> Sequence[Connection]:
    statement = select(Connection).where(Connection.user_id == user_id)
    if provider is not None:
        statement = statement.where(Connection.provider == provider)
    return (await session.scalars(statement.order_by(Connection.provider))).all()


@dataclass(frozen=True)
class ConnectionFilter:
    user_id: str | None = None
    provider: str | None = None
    status: ConnectionStatus | None = None


async def page(
    session: AsyncSession, where: ConnectionFilter, *, cursor: str | None, limit: int
) -> Page[Connection]:
    """Newest first; keyset-paginated on (created_at, id)."""
    statement = select(Connection)
    if where.user_id is not None:
        statement = statement.where(Connection.user_id == where.user_id)
    if where.provider is not None:
        statement = statement.where(Connection.provider == where.provider)
    if where.status is not None:
        statement = statement.where(Connection.status == where.status)
    return await keyset_page(
        session,
        statement,
        listing=LISTING,
        at=Connection.created_at,
        id_=Connection.id,
        cursor=cursor,
        limit=limit,
    )
