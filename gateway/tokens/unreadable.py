"""Connections whose sealed tokens do not open: marking them, counting them, and reopening them.

A token sealed for another row (a ciphertext copied between rows) or under a key no longer in the key
ring fails closed everywhere it is read (``CredentialsUnreadable``, 409 ``credentials_unreadable``).
Whoever finds one while refreshing marks its connection ``credentials_unreadable``: it keeps no
``next_refresh_at`` (the refresher stops trying it), its ``last_refresh_error`` names the code, the
column and the key id, and one audit entry and one ``connection.credentials_unreadable`` event say so.
A re-connect or an import stores new tokens and makes it ``active``; when the key comes back into the
ring, ``reopen`` (run as the refresher starts) makes every connection whose tokens open again
``active`` and due at once. Callers own the transaction, except in ``reopen``, a job.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.events.outbox import connection_data, emit
from gateway.exceptions import CredentialsUnreadable
from gateway.kit.clock import rfc3339, utcnow
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import AuditEvent, Connection, ConnectionStatus
from gateway.tokens import grant

log = logging.getLogger(__name__)

CODE = CredentialsUnreadable.code
EVENT = "connection.credentials_unreadable"
ACTOR = "gateway:refresher"
REOPEN_BATCH = 200


async def mark(
    session: AsyncSession,
    endpoints: Sequence[str],
    connection: Connection,
    column: str,
    error: CredentialsUnreadable,
) -> bool:
    """Mark ``connection`` (locked by the caller) unreadable; False if it already was or is revoked."""
    if connection.status is not ConnectionStatus.ACTIVE:
        return False
    key_id = (error.details or {}).get("key_id")
    connection.status = ConnectionStatus.CREDENTIALS_UNREADABLE
    connection.next_refresh_at = None
    connection.consecutive_failures += 1
    connection.last_refresh_error = {
        "code": CODE,
        "message": f"the {column.replace('_', ' ')} does not open with the key ring "
        f"(sealed under key {key_id or 'unknown'!s})",
        "at": rfc3339(utcnow()),
        "column": column,
        "key_id": key_id,
    }
    details = {"reason": CODE, "column": column, "key_id": key_id, "labels": connection.labels}
    session.add(AuditEvent(actor=ACTOR, action=EVENT, connection_id=connection.id, details=details))
    await emit(session, endpoints, EVENT, await connection_data(session, connection, CODE))
    log.error(
        "connection %s: its %s does not open with the key ring (key id %s); not refreshed or "
        "proxied until the user connects again or the key is restored",
        connection.id,
        column,
        key_id,
    )
    return True


async def count(session: AsyncSession) -> int:
    """How many connections are marked unreadable."""
    found = await session.scalar(
        select(func.count())
        .select_from(Connection)
        .where(Connection.status == ConnectionStatus.CREDENTIALS_UNREADABLE)
    )
    return int(found or 0)


def opens(keys: KeyRing, connection: Connection) -> bool:
    """Whether every token the connection holds opens with ``keys``."""
    try:
        grant.access_token(keys, connection)
        grant.refresh_token(keys, connection)
    except CredentialsUnreadable:
        return False
    return True


async def reopen(db: Database, keys: KeyRing, endpoints: Sequence[str]) -> int:
    """Make active (and due now) every marked connection whose tokens open again; returns how many."""
    reopened = 0
    after = None
    while True:
        async with db.transaction() as session:
            query = (
                select(Connection)
                .where(Connection.status == ConnectionStatus.CREDENTIALS_UNREADABLE)
                .order_by(Connection.id)
                .limit(REOPEN_BATCH)
                .with_for_update(skip_locked=True)
            )
            if after is not None:
                query = query.where(Connection.id > after)
            rows = (await session.scalars(query)).all()
            if not rows:
                return reopened
            for connection in rows:
                if opens(keys, connection):
                    await _reactivate(session, endpoints, connection)
                    reopened += 1
            after = rows[-1].id


async def _reactivate(
    session: AsyncSession, endpoints: Sequence[str], connection: Connection
) -> None:
    connection.status = ConnectionStatus.ACTIVE
    connection.next_refresh_at = utcnow()
    connection.last_refresh_error = None
    connection.consecutive_failures = 0
    session.add(
        AuditEvent(
            actor=ACTOR,
            action="connection.credentials_readable",
            connection_id=connection.id,
            details={"reason": "key_restored"},
        )
    )
    await emit(
        session,
        endpoints,
        "connection.recovered",
        await connection_data(session, connection, "key_restored"),
    )
    log.info("connection %s: its tokens open again; refreshing it", connection.id)
