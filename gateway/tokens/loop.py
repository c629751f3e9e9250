"""The refresher loop: each cycle refreshes the connections that are due, nearest expiry first.

Work per cycle grows with the connections due (an indexed range scan on ``next_refresh_at``), not
with all connections. Idle connections are refreshed like busy ones, so no refresh token dies of disuse.
Within a provider's token budget the loop takes the due connections whose tokens expire soonest; the
rest wait for the next cycle, still usable, their tokens not yet expired.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select

from gateway.exceptions import GatewayError
from gateway.kit import jobs
from gateway.kit.clock import utcnow
from gateway.kit.db import Database
from gateway.models import Connection, ConnectionStatus
from gateway.providers.spender import REFRESHER
from gateway.tokens import budget, unreadable
from gateway.tokens.refresher import Refresher

log = logging.getLogger(__name__)

CONCURRENCY = 8


async def refresh_due(db: Database, refresher: Refresher, batch_size: int) -> int:
    """One cycle; returns how many connections were attempted."""
    now = utcnow()
    async with db.transaction() as session:
        due = (
            await session.execute(
                select(Connection.id, Connection.provider)
                .where(
                    Connection.status == ConnectionStatus.ACTIVE,
                    Connection.next_refresh_at <= now,
                    (Connection.lease_expires_at.is_(None)) | (Connection.lease_expires_at < now),
                )
                .order_by(Connection.expires_at.asc().nulls_first())
                .limit(batch_size)
            )
        ).all()
    chosen = await within_budget(refresher.budget, [(row.id, row.provider) for row in due])
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(connection_id: object) -> None:
        async with gate:
            try:
                await refresher.refresh(
                    connection_id,  # type: ignore[arg-type]
                    spender=REFRESHER,
                    due_only=True,
                )
            except GatewayError as exc:
                log.info("refresh of %s did not succeed: %s", connection_id, exc.code)

    await asyncio.gather(*(one(connection_id) for connection_id in chosen))
    return len(due)


async def within_budget(
    token_budget: budget.TokenBudget | None, due: list[tuple[object, str]]
) -> list[object]:
    """The due connections (already nearest expiry first) each provider's budget can pay for now."""
    if token_budget is None:
        return [connection_id for connection_id, _ in due]
    by_provider: dict[str, list[object]] = defaultdict(list)
    for connection_id, provider in due:
        by_provider[provider].append(connection_id)
    chosen: list[object] = []
    for provider, ids in by_provider.items():
        room = await token_budget.available(provider, REFRESHER)
        if room is not None and room < len(ids):
            log.info("%s token budget: refreshing %d of %d due now", provider, room, len(ids))
        chosen.extend(ids if room is None else ids[:room])
    return chosen


async def run(
    db: Database,
    refresher: Refresher,
    *,
    interval: float,
    batch_size: int,
    stop: asyncio.Event,
    endpoints: Sequence[str] = (),
) -> None:
    """Refresh due connections until ``stop`` is set; a full batch goes round again at once.

    First, connections marked ``credentials_unreadable`` whose tokens open with this process's key
    ring (a key put back) become active and due (events to ``endpoints``)."""
    log.info("refresher started (every %.1fs, batches of %d)", interval, batch_size)
    try:
        reopened = await unreadable.reopen(db, refresher.keys, endpoints)
    except Exception:
        log.exception("could not look for unreadable connections that open again")
    else:
        if reopened:
            log.info("%d connection(s) whose tokens did not open open again", reopened)

    async def one_round() -> bool:
        return await refresh_due(db, refresher, batch_size) >= batch_size

    failed = "refresher cycle failed; trying again next cycle"
    await jobs.every(interval, stop, one_round, log=log, failed=failed)
