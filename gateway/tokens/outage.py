"""The end of a provider's outage, as the refresher's batches see it in this process.

While a provider cannot be reached or asks to be left alone (``ProviderUnavailable``: a 5xx, a
429, a timeout, a refused connection), every connection whose refresh fails waits out its own
backoff (``schedule.backoff_seconds``), so the provider gets one attempt per backoff, not one per
cycle. Those backoffs end at scattered times, unrelated to when the tokens expire: once the
provider answers again they would be refreshed in that order, and the last only after the longest
backoff. So the first success after a failure ends the outage here: the provider's connections
waiting out a backoff are made due at once (one statement), and the backlog is taken nearest
expiry first, as every due connection is.

Each replica learns of an outage, and of its end, from its own calls.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from gateway.kit.db import Database
from gateway.models import Connection, ConnectionStatus
from gateway.tokens import schedule

log = logging.getLogger(__name__)


class Outages:
    """The providers this process's refresher found down."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._down: set[str] = set()

    def is_down(self, provider: str) -> bool:
        return provider in self._down

    def failed(self, provider: str) -> None:
        """A call failed for want of the provider."""
        self._down.add(provider)

    async def recovered(self, provider: str, now: datetime) -> int:
        """A call succeeded: if ``provider`` was down, make its connections waiting out a backoff
        due now; how many. Best effort: if the database cannot be reached they wait out their
        backoff."""
        if provider not in self._down:
            return 0
        self._down.discard(provider)
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
        made_due = int(getattr(result, "rowcount", 0) or 0)
        log.info(
            "%s answers again: %d connection(s) waiting out a backoff made due", provider, made_due
        )
        return made_due
