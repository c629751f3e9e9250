"""The refresh lease: which process may refresh a connection now.

A lease is the connection row's owner and expiry, taken by a conditional UPDATE and longer than the
token endpoint's timeout, so that across processes one refresher at a time calls the provider for a
connection. A process that finds the lease held waits for the holder's result (``wait_for_other``);
a holder that died is noticed when its lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Update,
    and_,
    bindparam,
    or_,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import Executable

from gateway.kit.clock import utcnow
from gateway.kit.db import Database
from gateway.models import Connection, ConnectionStatus
from gateway.settings import Settings
from gateway.tokens.errors import ensure_usable

log = logging.getLogger(__name__)

LEASE_POLL_SECONDS = 0.05
# A cycle's first claim reads the due set whole when it is smaller than this (``Leases.claim``).
DUE_SET_READ = 4096


@dataclass(frozen=True)
class Fresh:
    """The connection as it stands after a refresh (ours or another process's)."""

    connection: Connection
    refreshed: bool
    holder_gone: bool = False  # another process held the lease and let it run out


def fail(refresh: asyncio.Future[Fresh], error: BaseException) -> None:
    """End a refresh that callers share with ``error``, unless it has ended already. Each caller
    re-raises it from its own wait, so it is marked retrieved here: nobody left waiting is no
    error."""
    if not refresh.done():
        refresh.set_exception(error)
        refresh.exception()


class Leases:
    """This process's refresh leases, under one owner id."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self.owner = f"{uuid.uuid4().hex[:16]}"
        # The due set a cycle's first claim read (or its part nearest expiry), nearest expiry
        # first, not yet claimed from; and whether it is such a part, kept for the next cycles.
        self._due: deque[uuid.UUID] = deque()
        self._kept = False

    async def take(self, connection_id: uuid.UUID) -> Connection | None:
        """The connection as it stands, its lease now ours; None while another process holds it.
        A connection that is not active is let go at once and raises why (``ensure_usable``)."""
        now = utcnow()
        async with self._db.transaction() as session:
            taken = await session.scalar(
                update(Connection)
                .where(
                    Connection.id == connection_id,
                    or_(
                        Connection.lease_owner.is_(None),
                        Connection.lease_expires_at < now,
                        Connection.lease_owner == self.owner,
                    ),
                )
                .values(
                    lease_owner=self.owner,
                    lease_expires_at=self.expiry(now),
                )
                .returning(Connection)
                .execution_options(populate_existing=True)
            )
        if taken is None:
            return None
        if taken.status is not ConnectionStatus.ACTIVE:
            await self.release(connection_id)
            ensure_usable(taken)
        return taken

    async def claim(self, limit: int, passed: Collection[uuid.UUID] = ()) -> list[Connection]:
        """Up to ``limit`` due connections, nearest expiry first, their leases now ours. Rows
        another transaction has locked are skipped, so replicas claiming at the same moment share
        the due set instead of queueing on it; so are the ``passed`` ones (a cycle's own, which it
        has taken already: one it could not refresh, its lease given back, is still due and
        nearest expiry, and must not take the cycle's every claim).

        The due set is read by a cycle's first claim (nothing ``passed`` yet), at most
        ``DUE_SET_READ`` rows, and claimed from by id, nearest expiry first. A due set smaller than
        that is read whole through ``ix_connections_due`` and put in expiry order here, every
        cycle. Of a larger one its ``DUE_SET_READ`` nearest expiry are read (the whole due set
        sorted by the database), and kept for the cycles after until they are claimed, or until
        ``forget_due``. Neither walks the connections in expiry order, which reads every active
        connection expiring before the due ones: the whole table when few or none are due among
        many, and every connection refreshed since when the due set is large
        (``docs/performance.md``)."""
        now = utcnow()
        if not passed and not (self._kept and self._due):
            self._due, self._kept = await self._due_set(now)
        claimed: list[Connection] = []
        while len(claimed) < limit and self._due:
            wanted = limit - len(claimed)
            chosen = [self._due.popleft() for _ in range(min(wanted, len(self._due)))]
            claimed += await self._claim_among([i for i in chosen if i not in passed], wanted, now)
        return claimed

    def forget_due(self) -> None:
        """Read the due set afresh at the next cycle's first claim: many connections were made due
        at once (a backlog, after an outage), and they expire before what was kept."""
        self._kept = False

    async def _due_set(self, now: datetime) -> tuple[deque[uuid.UUID], bool]:
        """The due connections' ids, nearest expiry first: all of them, or the ``DUE_SET_READ``
        nearest expiry when there are that many or more (then True)."""
        async with self._db.transaction() as session:
            rows = (await session.execute(DUE_SET, {"now": now, "cap": DUE_SET_READ})).all()
            part = len(rows) >= DUE_SET_READ
            if part:
                rows = (await session.execute(NEAREST_DUE, {"now": now, "cap": DUE_SET_READ})).all()
        ids = deque(row.id for row in sorted(rows, key=lambda row: _expiry_order(row, now)))
        return ids, part

    async def _claim_among(
        self, ids: list[uuid.UUID], limit: int, now: datetime
    ) -> list[Connection]:
        """Those of ``ids`` still due and free, at most ``limit``, nearest expiry first."""
        if not ids:
            return []
        return await self._lease_rows(CLAIM_AMONG, {"ids": ids}, limit, now)

    async def _lease_rows(
        self, statement: Update, chosen: dict[str, list[uuid.UUID]], limit: int, now: datetime
    ) -> list[Connection]:
        """The rows a claim ``statement`` chooses, their leases now ours, nearest expiry first."""
        parameters = {
            **chosen,
            "now": now,
            "limit": limit,
            "owner": self.owner,
            "expiry": self.expiry(now),
        }
        async with self._db.transaction() as session:
            rows = list(await session.scalars(statement, parameters))
        # RETURNING keeps no order: put it back.
        return sorted(rows, key=lambda row: _expiry_order(row, now))

    def expiry(self, now: datetime) -> datetime:
        """When a lease taken at ``now`` runs out."""
        return now + timedelta(seconds=self._settings.refresh_lease_seconds)

    async def release(self, *connection_ids: uuid.UUID) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(Connection)
                .where(Connection.id.in_(connection_ids), Connection.lease_owner == self.owner)
                .values(lease_owner=None, lease_expires_at=None)
            )

    async def release_all(self) -> int:
        """Give up every lease this process holds (on shutdown), so no refresh waits for them.

        Best effort: if the database cannot be reached the leases simply run out.
        """
        try:
            async with self._db.transaction() as session:
                result = await session.execute(
                    update(Connection)
                    .where(Connection.lease_owner == self.owner)
                    .values(lease_owner=None, lease_expires_at=None)
                )
        except (SQLAlchemyError, OSError) as exc:
            log.warning("could not give up refresh leases (%s); they expire", type(exc).__name__)
            return 0
        return int(getattr(result, "rowcount", 0) or 0)

    async def wait_for_other(
        self, connection_id: uuid.UUID, seen_version: int | None, *, patient: bool = True
    ) -> Fresh:
        """Another process holds the lease: use its result once the version moves or the lease ends
        (or at once, unless ``patient``)."""
        deadline = utcnow() + timedelta(seconds=self._settings.refresh_lease_seconds)
        while True:
            async with self._db.transaction() as session:
                current = await session.get(Connection, connection_id, populate_existing=True)
            if current is None:
                raise LookupError(f"connection {connection_id} vanished")
            ensure_usable(current)
            moved = seen_version is not None and current.token_version != seen_version
            if moved or current.lease_owner is None or not patient or utcnow() > deadline:
                return Fresh(current, refreshed=False)
            if current.lease_expires_at is not None and current.lease_expires_at < utcnow():
                return Fresh(current, refreshed=False, holder_gone=True)
            await asyncio.sleep(LEASE_POLL_SECONDS)


def _due(now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    """Active, due, and no lease held (or it ran out)."""
    return and_(
        Connection.status == ConnectionStatus.ACTIVE,
        Connection.next_refresh_at <= now,
        or_(Connection.lease_owner.is_(None), Connection.lease_expires_at < now),
    )


def _claim(chosen: ColumnElement[bool]) -> Update:
    """A claim's one statement, built (and so compiled) once: the due connections ``chosen``
    allows, nearest expiry first, at most ``:limit``, rows another transaction has locked skipped,
    their leases taken (``:owner``, ``:expiry``; ``:now`` the moment they are due by)."""
    now = bindparam("now", type_=Connection.__table__.c.lease_expires_at.type)
    due = (
        select(Connection.id)
        .where(_due(now), chosen)
        .order_by(Connection.expires_at.asc().nulls_first())
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True)
    )
    return (
        update(Connection)
        .where(Connection.id.in_(due))
        .values(lease_owner=bindparam("owner"), lease_expires_at=bindparam("expiry"))
        .returning(Connection)
        .execution_options(populate_existing=True, synchronize_session=False)
    )


# Among the due set a cycle read (``:ids``).
CLAIM_AMONG = _claim(Connection.id.in_(bindparam("ids", expanding=True)))


def _due_reads() -> tuple[Executable, Executable]:
    """The due set's reads (``:now``, at most ``:cap`` rows): in the due index's order, which
    reads nothing but the due set's entries whatever the planner's statistics say, and the
    ``:cap`` nearest expiry, for a due set known to be larger than that. The second sorts the due
    set itself (a materialised CTE), so that the planner cannot walk ``ix_connections_expiry``."""
    now = bindparam("now", type_=Connection.__table__.c.lease_expires_at.type)
    cap = bindparam("cap", type_=Integer)
    columns = (Connection.id, Connection.expires_at)
    in_due_order = select(*columns).where(_due(now)).order_by(Connection.next_refresh_at).limit(cap)
    due = select(*columns).where(_due(now)).cte("due").prefix_with("MATERIALIZED")
    nearest = (
        select(due.c.id, due.c.expires_at).order_by(due.c.expires_at.asc().nulls_first()).limit(cap)
    )
    return in_due_order, nearest


DUE_SET, NEAREST_DUE = _due_reads()


def _expiry_order(row: Any, now: datetime) -> tuple[bool, datetime]:
    """Nearest expiry first, an unknown expiry before all (as ``NULLS FIRST``)."""
    return (row.expires_at is not None, row.expires_at or now)
