"""The refresher loop: each cycle refreshes the connections that are due, nearest expiry first.

Work per cycle grows with the connections due (an indexed range scan on ``next_refresh_at``), not
with all connections. Idle connections are refreshed like busy ones, so no refresh token dies of disuse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import select

from gateway.exceptions import GatewayError
from gateway.kit.clock import utcnow
from gateway.kit.db import Database
from gateway.models import Connection, ConnectionStatus
from gateway.tokens.refresh import Refresher

log = logging.getLogger(__name__)

CONCURRENCY = 8


async def refresh_due(db: Database, refresher: Refresher, batch_size: int) -> int:
    """One cycle; returns how many connections were attempted."""
    now = utcnow()
    async with db.transaction() as session:
        due = (
            await session.scalars(
                select(Connection.id)
                .where(
                    Connection.status == ConnectionStatus.ACTIVE,
                    Connection.next_refresh_at <= now,
                    (Connection.lease_expires_at.is_(None)) | (Connection.lease_expires_at < now),
                )
                .order_by(Connection.expires_at.asc().nulls_first())
                .limit(batch_size)
            )
        ).all()
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(connection_id: object) -> None:
        async with gate:
            try:
                await refresher.refresh(connection_id, due_only=True)  # type: ignore[arg-type]
            except GatewayError as exc:
                log.info("refresh of %s did not succeed: %s", connection_id, exc.code)

    await asyncio.gather(*(one(connection_id) for connection_id in due))
    return len(due)


async def run(
    db: Database, refresher: Refresher, *, interval: float, batch_size: int, stop: asyncio.Event
) -> None:
    """Refresh due connections until ``stop`` is set; a full batch goes round again at once."""
    log.info("refresher started (every %.1fs, batches of %d)", interval, batch_size)
    while not stop.is_set():
        try:
            attempted = await refresh_due(db, refresher, batch_size)
        except Exception:
            log.exception("refresher cycle failed; trying again next cycle")
            attempted = 0
        if attempted >= batch_size:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
