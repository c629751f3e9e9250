"""A provider's outage as the refresher's batches see it, in this process.

When a token request of a batch fails because the provider cannot be reached or asks to be left
alone (``ProviderUnavailable``: a 5xx, a 429, a timeout, a refused connection), the provider is
taken to be down. The batches then send it one call at a time, a probe, first after
``BASE_SECONDS`` and then twice as long after each probe that fails, up to ``MAX_SECONDS``; every
other due connection of the provider is left due, untouched, instead of failing, so no backlog
piles up in per-connection backoff and no budget is spent on calls bound to fail. The first success
ends the outage: the connections that failed during it are made due at once (``recovered``), so
that the backlog is taken nearest expiry first, as every due connection is.

This is the refresher loop's own caution: on-demand refreshes (the proxy, a 401, an operator) are
not held back by it, and each replica learns of an outage from its own calls.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from gateway.kit.backoff import backoff_seconds
from gateway.kit.db import Database
from gateway.models import Connection, ConnectionStatus
from gateway.tokens import schedule

log = logging.getLogger(__name__)

BASE_SECONDS = 5.0
MAX_SECONDS = 60.0


@dataclass
class Down:
    """A provider found down: how many probes failed since (the first calls' failures count as
    one), when the next may go, and whether one is out."""

    failures: int
    probe_at: datetime
    probing: bool = False


class Outages:
    """The providers this process's refresher found down."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._down: dict[str, Down] = {}

    def down(self, provider: str) -> Down | None:
        return self._down.get(provider)

    def probing(self) -> bool:
        """Whether a probe of some provider is out."""
        return any(down.probing for down in self._down.values())

    def admits(self, provider: str, now: datetime) -> bool:
        """Whether a call to ``provider`` may go now: always while it is up; while it is down, one
        (the probe) once its time has come, after which the next waits for that probe's end."""
        down = self._down.get(provider)
        if down is None:
            return True
        if now < down.probe_at:
            return False
        # Until the probe answers, no other call: the next probe waits at least the longest wait.
        down.probe_at = now + timedelta(seconds=MAX_SECONDS)
        down.probing = True
        return True

    def failed(self, provider: str, now: datetime, retry_after: float | None) -> None:
        """A call failed for want of the provider: it is down (still), probed again later. The
        failures of calls that were in flight when it went down count once."""
        down = self._down.get(provider)
        if down is None:
            down = self._down[provider] = Down(failures=1, probe_at=now)
        elif down.probing:
            down.failures += 1
            down.probing = False
        else:
            return
        wait = backoff_seconds(down.failures, base=BASE_SECONDS, cap=MAX_SECONDS)
        down.probe_at = now + timedelta(seconds=max(wait, retry_after or 0.0))

    async def recovered(self, provider: str, now: datetime) -> int:
        """A call succeeded: if ``provider`` was down, make its connections waiting out a backoff
        due now (one statement); how many. Best effort: if the database cannot be reached they
        wait out their backoff."""
        down = self._down.pop(provider, None)
        if down is None:
            return 0
        try:
            return await self._make_due(provider, now)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("could not make %s's backlog due (%s)", provider, type(exc).__name__)
            return 0

    async def _make_due(self, provider: str, now: datetime) -> int:
        async with self._db.transaction() as session:
            result = await session.execute(
                update(Connection)
                .where(
                    Connection.provider == provider,
                    Connection.status == ConnectionStatus.ACTIVE,
                    Connection.consecutive_failures > 0,
                    Connection.next_refresh_at > now,
                    Connection.next_refresh_at
                    <= now + timedelta(seconds=schedule.MAX_BACKOFF_SECONDS),
                )
                .values(next_refresh_at=now)
                .execution_options(synchronize_session=False)
            )
        return int(getattr(result, "rowcount", 0) or 0)
