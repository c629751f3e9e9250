"""Revoking every connection a selector matches (a user's, a provider's, those in a status or with
labels): an operator's dangerous act, shared by the admin API (``POST /v1/connections/revocations``)
and the console's revocations page.

It must be confirmed: ``confirm`` must echo the number of connections the selector matches now,
else ``ConfirmationRequired`` with that number in ``details.affected`` and nothing is revoked, so
the caller sees what it is about to do and a selector that grew since is refused. The act as a whole
is audited as ``connections.revoked_by_selector`` with the selector and the number confirmed
(written first, so an interrupted act still shows).

The connections are then revoked here in batches of ``BATCH_SIZE``, each batch one transaction that
writes what a single revocation writes (``revocation.mark_all_revoked``: status, tokens erased with
``token_version`` bumped, refreshes stopped, delegated keys revoked, a ``connection.revoked`` audit
entry with the caller and its event), and queues each grant's tokens in ``pending_revocations``,
due at once. The provider is not called: the background retry (``upstream_revocation``) drains the
queue, deciding at each attempt, as for a single revocation, whether the account-wide revocation
applies. So the act's time grows with the number of batches, not with the provider's.

Concurrency: a batch locks its rows ``FOR UPDATE SKIP LOCKED``, re-checked against the selector. A
row revoked, deleted or changed out of the selector since it was counted is skipped, never revoked
twice. A row another writer holds (a refresh writing back, a single revocation) is left for a later
pass, at most ``PASSES``; one still held then is skipped, and the act can be repeated for it. A
refresh in flight when its connection is revoked loses its compare-and-swap on ``token_version``
and queues its new tokens for revocation (``tokens.outcomes``), so it cannot bring the connection
back. A batch waits at most ``LOCK_TIMEOUT_MS`` for any other lock; if a batch fails, the batches
before it stay revoked, it and the rest are untouched, and ``RevocationInterrupted`` says how many
were revoked: asking again gives the new count to confirm.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import store as audit
from gateway.connections import queries
from gateway.connections.revocation import (
    ACTION,
    REASON,
    UNREADABLE_UPSTREAM,
    LocalRevocation,
    UpstreamProblem,
    UpstreamState,
    decide,
    mark_all_revoked,
    upstream_outcome,
)
from gateway.exceptions import ConfirmationRequired, ServiceUnavailable
from gateway.kit.clock import utcnow
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database, error_name
from gateway.models import Connection, ConnectionStatus
from gateway.settings import Settings
from gateway.tokens import pending_revocations

log = logging.getLogger(__name__)

SELECTOR_ACTION = "connections.revoked_by_selector"
BATCH_SIZE = 200
# Passes over the rows other writers held; the pause before each pass after the first.
PASSES = 3
PASS_PAUSE_SECONDS = 0.1
LOCK_TIMEOUT_MS = 5000
RETRY_AFTER_SECONDS = 1


class RevocationInterrupted(ServiceUnavailable):
    """Raised when a batch of a bulk revocation fails (the database, or a lock held past
    ``LOCK_TIMEOUT_MS``): the batches before it are revoked (``details.revoked``), it and the rest
    are untouched. Asking again gives the new count to confirm."""

    code = "revocation_interrupted"


@dataclass(frozen=True)
class Preview:
    """How many connections revoking by a selector would act on now, and the first of them."""

    count: int
    first: Sequence[Connection]


async def preview(db: Database, where: queries.ConnectionFilter, *, shown: int) -> Preview:
    """What revoking by ``where`` would act on now: counted by the database, and only the first
    ``shown`` (oldest first) read, however many match."""

    async def work(session: AsyncSession) -> Preview:
        count = await queries.count_revocable(session, where)
        first = await queries.revocable(session, where, limit=shown) if count else ()
        return Preview(count, first)

    return await db.read(work)


@dataclass(frozen=True)
class Revoked:
    """One connection revoked here; its provider's revocation queued (``pending``), not needed
    (``done``: no tokens were left), or impossible (``not_possible``: they do not open)."""

    connection_id: uuid.UUID
    upstream: UpstreamState
    upstream_error: UpstreamProblem | None = None

    def outcome(self) -> dict[str, Any]:
        """The upstream half of the answer, as a single revocation's."""
        return upstream_outcome(self.upstream, self.upstream_error)


@dataclass
class BulkRevocation:
    """What a bulk revocation did: the connections revoked, in order, and how many of those
    confirmed it skipped (changed meanwhile, or held by another writer throughout)."""

    confirmed: int
    revoked: list[Revoked] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return self.confirmed - len(self.revoked)

    @property
    def queued(self) -> int:
        """Provider revocations left to the background retry."""
        return sum(1 for one in self.revoked if one.upstream == "pending")


async def revoke_confirmed(
    db: Database,
    keys: KeyRing,
    settings: Settings,
    where: queries.ConnectionFilter,
    *,
    confirm: int | None,
    actor: str,
) -> BulkRevocation:
    """Revoke what ``where`` matches, when ``confirm`` is their number. Counted by the database
    first, so a request to confirm (or a wrong number) reads no row, however many match."""
    counted = await db.read(lambda session: queries.count_revocable(session, where))
    if confirm != counted:
        raise _confirmation_required(counted)
    targets = await db.read(lambda session: _target_ids(session, where))
    if confirm != len(targets):  # the selector's rows changed since they were counted
        raise _confirmation_required(len(targets))
    async with db.transaction() as session:
        audit.record(
            session,
            actor=actor,
            action=SELECTOR_ACTION,
            connection_id=None,
            details={"selector": _selector(where), "confirmed": len(targets)},
        )
    done = BulkRevocation(len(targets))
    waiting = targets
    for attempt in range(PASSES):
        if attempt:
            await asyncio.sleep(PASS_PAUSE_SECONDS)
        held: list[uuid.UUID] = []
        for start in range(0, len(waiting), BATCH_SIZE):
            batch = waiting[start : start + BATCH_SIZE]
            try:
                async with db.transaction() as session:
                    revoked, busy = await _revoke_batch(
                        session, keys, settings, where, batch, actor
                    )
            except (SQLAlchemyError, OSError) as exc:
                raise _interrupted(done, actor, exc) from exc
            done.revoked.extend(revoked)
            held.extend(busy)
        waiting = held
        if not waiting:
            break
    log.info(
        "%s revoked %d connection(s) by selector (%d skipped, %d provider revocation(s) queued)",
        actor,
        len(done.revoked),
        done.skipped,
        done.queued,
    )
    return done


def _confirmation_required(count: int) -> ConfirmationRequired:
    return ConfirmationRequired(
        f"this revokes {count} connection(s): send confirm={count} to do it",
        details={"affected": count},
    )


async def _target_ids(session: AsyncSession, where: queries.ConnectionFilter) -> list[uuid.UUID]:
    statement = where.apply(select(Connection.id)).where(queries.revocable_now())
    return list(await session.scalars(statement.order_by(Connection.created_at, Connection.id)))


async def _revoke_batch(
    session: AsyncSession,
    keys: KeyRing,
    settings: Settings,
    where: queries.ConnectionFilter,
    ids: Sequence[uuid.UUID],
    actor: str,
) -> tuple[list[Revoked], list[uuid.UUID]]:
    """Revoke the rows of ``ids`` that still match and that no one else holds; returns them (in
    the order of ``ids``), and the ids of rows that still match but were held."""
    await session.execute(select(func.set_config("lock_timeout", f"{LOCK_TIMEOUT_MS}ms", True)))
    statement = (
        where.apply(select(Connection))
        .where(Connection.id.in_(ids), queries.revocable_now())
        .order_by(Connection.id)
        .with_for_update(skip_locked=True, of=Connection)
        .execution_options(populate_existing=True)
    )
    locked = list(await session.scalars(statement))
    missing = set(ids) - {connection.id for connection in locked}
    held = await _still_matching(session, where, missing) if missing else []
    if not locked:
        return [], held
    accounts = await _accounts(session, locked)
    decided: list[LocalRevocation] = []
    before: set[uuid.UUID] = set()
    for connection in locked:
        # Within a batch, as one after another: a connection revoked before is no longer live.
        others = [
            row
            for row in accounts.get((connection.provider, connection.subject), [])
            if row.id != connection.id
            and row.id not in before
            and row.status is not ConnectionStatus.REVOKED
        ]
        decided.append(decide(keys, settings, connection, others))
        before.add(connection.id)
    await mark_all_revoked(
        session,
        settings.event_endpoints,
        [(one.connection, one.details()) for one in decided],
        actor=actor,
        action=ACTION,
        reason=REASON,
    )
    now = utcnow()
    for one in decided:
        if one.tokens:
            pending_revocations.queue(session, keys, one.connection, one.tokens, now)
    order = {connection_id: n for n, connection_id in enumerate(ids)}
    decided.sort(key=lambda one: order[one.connection.id])
    return [_revoked(one) for one in decided], held


async def _still_matching(
    session: AsyncSession, where: queries.ConnectionFilter, ids: set[uuid.UUID]
) -> list[uuid.UUID]:
    statement = where.apply(select(Connection.id)).where(
        Connection.id.in_(ids), queries.revocable_now()
    )
    return list(await session.scalars(statement.order_by(Connection.id)))


async def _accounts(
    session: AsyncSession, connections: Sequence[Connection]
) -> dict[tuple[str, str], list[Connection]]:
    """Every connection of the provider accounts of ``connections`` (read, not locked: what the
    audit entries say of the plan; the background retry decides again at each attempt whether
    the account-wide revocation applies), oldest first."""
    pairs = {(connection.provider, connection.subject) for connection in connections}
    found: dict[tuple[str, str], list[Connection]] = {}
    rows = await session.scalars(
        select(Connection)
        .where(tuple_(Connection.provider, Connection.subject).in_(pairs))
        .order_by(Connection.created_at, Connection.id)
    )
    for row in rows:
        found.setdefault((row.provider, row.subject), []).append(row)
    return found


def _revoked(one: LocalRevocation) -> Revoked:
    if one.unreadable is not None:
        log.warning(
            "connection %s revoked; not at the provider: its tokens do not open", one.connection.id
        )
        problem = UpstreamProblem(one.unreadable.code, UNREADABLE_UPSTREAM)
        return Revoked(one.connection.id, "not_possible", problem)
    return Revoked(one.connection.id, "pending" if one.tokens else "done")


def _interrupted(done: BulkRevocation, actor: str, exc: BaseException) -> RevocationInterrupted:
    log.error(
        "bulk revocation by %s interrupted after %d of %d connection(s): %s",
        actor,
        len(done.revoked),
        done.confirmed,
        error_name(exc),
    )
    return RevocationInterrupted(
        f"the revocation stopped after {len(done.revoked)} of {done.confirmed} connection(s); "
        "ask again for the number left and confirm it",
        details={"revoked": len(done.revoked), "confirmed": done.confirmed},
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _selector(where: queries.ConnectionFilter) -> dict[str, Any]:
    labels = [s.key if s.value is None else f"{s.key}={s.value}" for s in where.labels]
    found: dict[str, Any] = {
        "user_id": where.user_id,
        "provider": where.provider,
        "status": where.status.value if where.status is not None else None,
        "label": labels or None,
    }
    return {name: value for name, value in found.items() if value is not None}
