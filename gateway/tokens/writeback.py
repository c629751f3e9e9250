"""The batch refresher's writes of new tokens, in groups.

Refreshes that succeed are written as they arrive: the first waits up to ``GROUP_SECONDS`` for
others, or until the group holds a round of answers (``refresher_concurrency``), then they are
written together, while what arrives after forms the next group (written concurrently, not after
it), so no result waits for the whole batch, nor for another group. A group is one statement in
one transaction: the compare-and-swap on each row's ``token_version`` (``UPDATE ... FROM
jsonb_to_recordset(:rows)``, the values ``grant.write`` computed and the settings the token
response gave), the lease given up on each row that won (if it is still ours), and one timeline
record per row that won (naming the settings that changed, as a single refresh's does); it
returns the rows that won. The statement's text is the same for every group, so it is compiled
once. Only the rare cases add statements to that transaction: a lost race (handled as a single
refresh handles it: the newer tokens stay, ours are queued for revocation when the connection was
revoked meanwhile), a connection that recovers from failures (its ``connection.recovered``
event), a breaker probe that succeeded (the breaker closes). While the database is unavailable
the group is tried again while the leases of its rows hold, as a single refresh's write is.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Select,
    Table,
    bindparam,
    case,
    column,
    func,
    insert,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kit.clock import utcnow
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import Connection, RecordKind, TimelineRecord
from gateway.providers.spender import REFRESHER
from gateway.providers.token_response import TokenSet
from gateway.settings import Settings
from gateway.tokens import breaker, grant
from gateway.tokens.errors import ensure_usable
from gateway.tokens.lease import Leases
from gateway.tokens.outcomes import ACTOR, Outcomes, write_within

log = logging.getLogger(__name__)

GROUP_SECONDS = 0.02


@dataclass(frozen=True)
class Refreshed:
    """A provider's answer for a claimed connection, waiting to be written."""

    connection: Connection  # as claimed, its lease ours
    tokens: TokenSet
    lifetime: int
    probe: bool = False  # the call that tested its provider's half-open breaker
    # What its token response said that the profile allows (``obtain.allowed_settings``).
    provider_settings: Mapping[str, str] = field(default_factory=dict)


class GroupWriter:
    """Writes refreshed connections in groups; one per refresher cycle."""

    def __init__(
        self, db: Database, keys: KeyRing, settings: Settings, leases: Leases, outcomes: Outcomes
    ) -> None:
        self._db = db
        self._keys = keys
        self._settings = settings
        self._leases = leases
        self._outcomes = outcomes
        # A group closes when it holds a round of calls' answers.
        self._size = settings.refresher_concurrency
        # The group collecting arrivals, until it is full or its first has waited ``GROUP_SECONDS``.
        self._open: _Group | None = None

    async def write(self, refreshed: Refreshed) -> Connection:
        """The connection as stored once its group is written: ours, or the newer write that won
        the race (raising ``ensure_usable``'s error when that was a revocation)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Connection] = loop.create_future()
        group = self._open
        if group is not None:
            group.items.append((refreshed, future))
            if len(group.items) >= self._size:
                self._open = None  # full: what arrives next opens another group
                _close(group.closed)
            return await future
        self._open = group = _Group([(refreshed, future)], loop.create_future())
        timer = loop.call_later(GROUP_SECONDS, _close, group.closed)
        try:
            await group.closed
            if self._open is group:
                self._open = None  # closed: what arrives next opens another group
            await self._write_group(group.items)
        finally:
            timer.cancel()
            if self._open is group:
                self._open = None
            for _, waiting in group.items:
                if not waiting.done():  # this task was cancelled
                    waiting.cancel()
        return await future

    async def _write_group(self, group: list[tuple[Refreshed, asyncio.Future[Connection]]]) -> None:
        now = utcnow()
        recovering = {
            item.connection.id for item, _ in group if item.connection.consecutive_failures
        }
        rows = []
        for item, _ in group:
            row = item.connection
            grant.write(
                self._keys,
                row,
                item.tokens,
                lifetime=item.lifetime,
                now=now,
                settings=self._settings,
            )
            row.last_refreshed_at = now
            details: dict[str, Any] = {"spender": REFRESHER.key}
            changed = sorted(
                name
                for name, value in item.provider_settings.items()
                if row.provider_settings.get(name) != value
            )
            if changed:
                row.provider_settings = {**row.provider_settings, **item.provider_settings}
                details["settings_changed"] = changed
            rows.append((row, details))
        parameters = {"rows": _incoming(rows), "now": now, "owner": self._leases.owner}
        probes = {item.connection.provider for item, _ in group if item.probe}

        async def work(session: AsyncSession) -> dict[uuid.UUID, Connection]:
            won = set(await session.scalars(COMPARE_AND_SWAP, parameters))
            winners = {}
            for item, _ in group:
                row = item.connection
                if row.id not in won:
                    winners[row.id] = await self._outcomes.lost_race(session, row, item.tokens, now)
                elif row.id in recovering:
                    await self._outcomes.event(
                        session, row, "connection.recovered", "refresh_succeeded"
                    )
            for provider in probes:
                await breaker.reset(session, provider)
            return winners

        try:
            within = min(write_within(item.connection, self._settings, now) for item, _ in group)
            winners = await self._db.persist(work, within=within)
        except Exception as exc:
            log.exception("could not write %d refreshed connection(s)", len(group))
            for _, future in group:
                future.set_exception(exc)
            return
        if winners:
            await self._leases.release(*winners)
        for item, future in group:
            row = item.connection
            winner = winners.get(row.id)
            if winner is None:
                row.lease_owner = row.lease_expires_at = None
                log.info(
                    "refreshed connection %s (version %s)",
                    row.id,
                    row.token_version,
                    extra={"connection_id": row.id, "provider": row.provider},
                )
                future.set_result(row)
                continue
            try:
                ensure_usable(winner)
            except Exception as exc:
                future.set_exception(exc)
            else:
                future.set_result(winner)


@dataclass(frozen=True)
class _Group:
    items: list[tuple[Refreshed, asyncio.Future[Connection]]]
    closed: asyncio.Future[None]  # done when the group takes no more


def _close(closed: asyncio.Future[None]) -> None:
    if not closed.done():
        closed.set_result(None)


def _incoming(rows: list[tuple[Connection, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The group's rows as ``COMPARE_AND_SWAP``'s ``incoming`` records: its columns by name, in
    JSON (times in ISO 8601, ids as text; PostgreSQL reads them back as the columns' types)."""
    return [
        {
            "id": str(row.id),
            **{name: _json(getattr(row, name)) for name in grant.WRITTEN},
            "settings": row.provider_settings,
            "details": details,
        }
        for row, details in rows
    ]


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _compare_and_swap() -> Select[tuple[uuid.UUID]]:
    """One statement for any group: each ``incoming`` row's ``grant.WRITTEN`` columns and its
    settings where its version is still the one claimed (one below the new), its lease given up
    if ours (``:owner``), a timeline record with its details for each row that won; returns the
    ids of those rows. The group's data is one parameter (``:rows``, ``_incoming``), so its SQL
    is the same for every group and SQLAlchemy compiles it once (``docs/performance.md``)."""
    table = cast(Table, Connection.__table__)
    records = cast(Table, TimelineRecord.__table__)
    now = bindparam("now", type_=table.c.last_refreshed_at.type)
    incoming = (
        func.jsonb_to_recordset(bindparam("rows", type_=JSONB))
        .table_valued(
            *(column(name, table.c[name].type) for name in ("id", *grant.WRITTEN)),
            column("settings", JSONB),
            column("details", JSONB),
        )
        .render_derived(name="incoming", with_types=True)
    )
    ours = table.c.lease_owner == bindparam("owner", type_=table.c.lease_owner.type)
    won = (
        update(table)
        .where(table.c.id == incoming.c.id, table.c.token_version == incoming.c.token_version - 1)
        .values(
            {
                **{name: incoming.c[name] for name in grant.WRITTEN},
                "settings": incoming.c.settings,
                "last_refreshed_at": now,
                "lease_owner": case((ours, null()), else_=table.c.lease_owner),
                "lease_expires_at": case((ours, null()), else_=table.c.lease_expires_at),
            }
        )
        .returning(table.c.id, incoming.c.details)
        .cte("won")
    )
    recorded = (
        insert(records)
        .from_select(
            ["id", "connection_id", "occurred_at", "kind", "actor", "details"],
            select(
                func.gen_random_uuid(),
                won.c.id,
                now,
                literal(RecordKind.REFRESHED.value, records.c.kind.type),
                literal(ACTOR, records.c.actor.type),
                won.c.details,
            ),
        )
        .cte("recorded")
    )
    return select(won.c.id).add_cte(recorded)


COMPARE_AND_SWAP = _compare_and_swap()
