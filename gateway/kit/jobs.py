"""The background jobs' one loop, how a job logs the failure of one of its rounds, and the lock
that lets one replica at a time do a job's round."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy import text

from gateway.kit.db import Database, error_name, unavailable


async def every(
    interval: float,
    stop: asyncio.Event,
    one_round: Callable[[], Awaitable[bool]],
    *,
    log: logging.Logger,
    failed: str,
) -> None:
    """Run ``one_round`` until ``stop`` is set: again at once when it returns True (it did a full batch,
    so more is waiting), else once ``interval`` seconds have passed or ``stop`` is set. A round that
    raises is logged (``log_job_failure``, with ``failed`` as the message) and the loop goes on."""
    while not stop.is_set():
        try:
            more = await one_round()
        except Exception:
            log_job_failure(log, failed)
            more = False
        if more:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


def log_job_failure(job_log: logging.Logger, message: str) -> None:
    """Log the error a background job is handling, classified as a request's is: an outage as one
    warning (the job tries again next round), anything else with its traceback."""
    exc = sys.exc_info()[1]
    if exc is not None and unavailable(exc):
        job_log.warning("%s: database unavailable (%s)", message, error_name(exc))
    else:
        job_log.exception(message)


@asynccontextmanager
async def one_replica(db: Database, key: str) -> AsyncIterator[bool]:
    """Whether this replica holds the advisory lock named ``key`` for the block (on a connection
    of its own, so the block's transactions stay short); False at once when another holds it."""
    async with db.engine.connect() as lock_conn:
        taken = bool(
            await lock_conn.scalar(
                text("SELECT pg_try_advisory_lock(hashtext(:key))"), {"key": key}
            )
        )
        try:
            yield taken
        finally:
            if taken:
                await lock_conn.execute(
                    text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": key}
                )
            await lock_conn.commit()
