"""The refresher loop: each cycle refreshes a batch of the connections that are due, nearest expiry
first (``tokens.batch``).

Work per cycle grows with the connections due, not with all connections: a few due are found by
an index on ``next_refresh_at``, a backlog is walked in expiry order by one on ``expires_at``. Idle connections are refreshed like busy ones, so no refresh token dies of disuse.
Within a provider's token budget the loop takes the due connections whose tokens expire soonest; the
rest wait for the next cycle, still usable, their tokens not yet expired.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from gateway.kit import jobs
from gateway.kit.db import Database
from gateway.tokens import unreadable
from gateway.tokens.refresher import Refresher

log = logging.getLogger(__name__)


async def refresh_due(refresher: Refresher, batch_size: int) -> int:
    """One cycle: a batch of at most ``batch_size``; returns how many connections were claimed."""
    return await refresher.refresh_due(batch_size)


async def run(
    db: Database,
    refresher: Refresher,
    *,
    interval: float,
    batch_size: int,
    stop: asyncio.Event,
    endpoints: Sequence[str] = (),
) -> None:
    """Refresh due connections until ``stop`` is set; a cycle that leaves more it could refresh at
    once (a full batch nothing held back, or a provider back from an outage) goes round again at
    once (``Refresher.more_due``).

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
        await refresh_due(refresher, batch_size)
        return refresher.more_due

    failed = "refresher cycle failed; trying again next cycle"
    await jobs.every(interval, stop, one_round, log=log, failed=failed)
