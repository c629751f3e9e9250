"""A connection's external ids: its owner's own references for it (at most five), unique per owner
and provider, so that an owner can find its connection by its own id (``?external_id=crm-42``).

They live in ``connection_external_ids``, whose ``owner_client_id`` and ``provider`` copy the
connection's (``move`` keeps them equal on a transfer). They are read explicitly, one query for a
whole page (``of``), never on the proxy's or the refresher's path. Callers own the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from gateway.connections.errors import ExternalIdTaken
from gateway.models import Connection, ConnectionExternalId

Row = ConnectionExternalId


async def of(
    session: AsyncSession, connection_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    """Each connection's external ids, sorted by code point; connections without any are left
    out."""
    ids = set(connection_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(Row.connection_id, Row.external_id).where(Row.connection_id.in_(ids))
    )
    found: dict[uuid.UUID, list[str]] = {}
    for connection_id, external_id in rows:
        found.setdefault(connection_id, []).append(external_id)
    # Sorted here rather than by the database, whose collation may order them otherwise.
    return {connection_id: sorted(mine) for connection_id, mine in found.items()}


async def of_one(session: AsyncSession, connection_id: uuid.UUID) -> list[str]:
    return (await of(session, [connection_id])).get(connection_id, [])


async def holder(
    session: AsyncSession,
    owner: uuid.UUID | None,
    provider: str,
    external_ids: Collection[str],
    *,
    excluding: uuid.UUID | None,
) -> tuple[str, uuid.UUID] | None:
    """The first of ``external_ids`` that another connection of ``owner`` (None: ``operator``) at
    ``provider`` has, with that connection's id; None when none is taken."""
    if not external_ids:
        return None
    statement = (
        select(Row.external_id, Row.connection_id)
        .where(
            Row.owner_client_id.is_not_distinct_from(owner),
            Row.provider == provider,
            Row.external_id.in_(external_ids),
        )
        .order_by(Row.external_id)
        .limit(1)
    )
    if excluding is not None:
        statement = statement.where(Row.connection_id != excluding)
    found = (await session.execute(statement)).first()
    return None if found is None else (found[0], found[1])


def taken(external_id: str, connection_id: uuid.UUID) -> ExternalIdTaken:
    return ExternalIdTaken(
        f"another connection of the same owner and provider has the external id {external_id!r}",
        details={"external_id": external_id, "connection_id": str(connection_id)},
    )


async def check_free(
    session: AsyncSession,
    owner: uuid.UUID | None,
    provider: str,
    external_ids: Collection[str],
    *,
    excluding: uuid.UUID | None,
) -> None:
    """ExternalIdTaken when another connection of the owner and provider has one of them."""
    found = await holder(session, owner, provider, external_ids, excluding=excluding)
    if found is not None:
        raise taken(*found)


async def replace(
    session: AsyncSession, connection: Connection, external_ids: Collection[str]
) -> None:
    """Make ``external_ids`` the connection's whole set; ExternalIdTaken when another connection
    of its owner and provider has one of them (a concurrent change included)."""
    owner, provider = connection.owner_client_id, connection.provider
    await check_free(session, owner, provider, external_ids, excluding=connection.id)
    await session.execute(delete(Row).where(Row.connection_id == connection.id))
    if not external_ids:
        return
    rows: list[dict[str, object]] = [
        {
            "connection_id": connection.id,
            "external_id": external_id,
            "owner_client_id": owner,
            "provider": provider,
        }
        for external_id in external_ids
    ]
    await _unique(session, connection, owner, external_ids, insert(Row), rows)


async def move(session: AsyncSession, connection: Connection, owner: uuid.UUID | None) -> None:
    """Hand the connection's external ids to its new ``owner``; ExternalIdTaken when that owner
    already uses one of them for another connection at the provider."""
    mine = await of_one(session, connection.id)
    await check_free(session, owner, connection.provider, mine, excluding=connection.id)
    statement = update(Row).where(Row.connection_id == connection.id).values(owner_client_id=owner)
    await _unique(session, connection, owner, mine, statement, None)


async def _unique(
    session: AsyncSession,
    connection: Connection,
    owner: uuid.UUID | None,
    external_ids: Collection[str],
    statement: Executable,
    rows: list[dict[str, object]] | None,
) -> None:
    """Run ``statement`` in a savepoint; a unique violation (another transaction took one of
    ``external_ids`` after the check, and committed first) becomes ExternalIdTaken."""
    try:
        async with session.begin_nested():
            await session.execute(statement, rows)
    except IntegrityError as exc:
        found = await holder(
            session, owner, connection.provider, external_ids, excluding=connection.id
        )
        if found is None:
            raise
        raise taken(*found) from exc
