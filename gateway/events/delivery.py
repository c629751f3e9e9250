"""The ``Deliverer``: sends outbox events to their endpoints, signed, at least once.

A pass claims due deliveries in a short transaction (``FOR UPDATE SKIP LOCKED``, then pushes their
``next_attempt_at`` past the send so no other worker takes them), commits, POSTs them with no
transaction or pooled connection held, and records each outcome in another short transaction.
Failures back off exponentially with jitter; after ``max_attempts`` the delivery is abandoned.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from gateway.events import signing
from gateway.kit import jobs
from gateway.kit.backoff import backoff_seconds
from gateway.kit.clock import utcnow
from gateway.kit.db import Database
from gateway.models import EventDelivery, OutboxEvent

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
BASE_DELAY_SECONDS = 5.0
MAX_DELAY_SECONDS = 3600.0
JITTER_FRACTION = 0.2
# Longer than a send can take, so a claim outlives its POST; a crashed worker's rows come back after.
CLAIM_SECONDS = 120.0
SEND_TIMEOUT = httpx.Timeout(30.0, connect=5.0)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Claim:
    """A delivery taken by this worker: everything needed to send it, read before the commit."""

    delivery_id: uuid.UUID
    event_id: uuid.UUID
    endpoint: str
    attempts: int
    body: bytes


@dataclass(frozen=True)
class Outcome:
    claim: Claim
    error: str | None  # None when delivered


def backoff(attempts: int, *, jitter: float) -> timedelta:
    """The wait after the ``attempts``-th failure; ``jitter`` (in [0, 1]) picks how much of
    ``JITTER_FRACTION`` is taken off."""
    seconds = backoff_seconds(
        attempts,
        base=BASE_DELAY_SECONDS,
        cap=MAX_DELAY_SECONDS,
        jitter=JITTER_FRACTION,
        draw=jitter,
    )
    return timedelta(seconds=seconds)


class Deliverer:
    def __init__(
        self,
        db: Database,
        http: httpx.AsyncClient,
        secrets: Sequence[str],
        *,
        clock: Clock = utcnow,
        max_attempts: int = MAX_ATTEMPTS,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._db = db
        self._http = http
        self._keys = signing.parse_secrets(secrets)
        self._clock = clock
        self._max_attempts = max_attempts
        self._jitter = jitter

    async def deliver_due(self, limit: int = 50) -> int:
        """One pass; returns how many deliveries it attempted."""
        if not self._keys:
            log.error(
                "no event signing secrets configured (GATEWAY_EVENT_SIGNING_SECRETS); "
                "events stay pending"
            )
            return 0
        claims = await self._claim(limit)
        if not claims:
            return 0
        outcomes = await asyncio.gather(*(self._send(claim) for claim in claims))
        await self._record(outcomes)
        return len(claims)

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        """Deliver until ``stop`` is set; a full batch is followed by the next pass at once."""
        limit = 50

        async def one_round() -> bool:
            return await self.deliver_due(limit) >= limit

        await jobs.every(interval, stop, one_round, log=log, failed="event delivery pass failed")

    async def _claim(self, limit: int) -> list[Claim]:
        now = self._clock()
        query = (
            select(EventDelivery, OutboxEvent)
            .join(OutboxEvent, OutboxEvent.id == EventDelivery.event_id)
            .where(
                EventDelivery.delivered_at.is_(None),
                EventDelivery.abandoned_at.is_(None),
                EventDelivery.next_attempt_at <= now,
            )
            .order_by(EventDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(of=EventDelivery, skip_locked=True)
        )
        async with self._db.transaction() as session:
            rows = (await session.execute(query)).all()
            claims = [
                Claim(
                    delivery_id=delivery.id,
                    event_id=event.id,
                    endpoint=delivery.endpoint,
                    attempts=delivery.attempts,
                    body=signing.payload(event.type, event.occurred_at, event.data),
                )
                for delivery, event in rows
            ]
            if claims:
                await session.execute(
                    update(EventDelivery)
                    .where(EventDelivery.id.in_([claim.delivery_id for claim in claims]))
                    .values(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
                )
        return claims

    async def _send(self, claim: Claim) -> Outcome:
        timestamp = int(self._clock().timestamp())
        headers = signing.headers(self._keys, str(claim.event_id), timestamp, claim.body)
        try:
            response = await self._http.post(
                claim.endpoint, content=claim.body, headers=headers, timeout=SEND_TIMEOUT
            )
        except httpx.HTTPError as exc:
            # The class only: an exception's text may quote a URL with credentials in it.
            return Outcome(claim, type(exc).__name__)
        if response.is_success:
            return Outcome(claim, None)
        return Outcome(claim, f"HTTP {response.status_code}")

    async def _record(self, outcomes: Sequence[Outcome]) -> None:
        now = self._clock()
        async with self._db.transaction() as session:
            for outcome in outcomes:
                values = self._outcome_values(outcome, now)
                await session.execute(
                    update(EventDelivery)
                    .where(
                        EventDelivery.id == outcome.claim.delivery_id,
                        EventDelivery.delivered_at.is_(None),
                    )
                    .values(**values)
                )

    def _outcome_values(self, outcome: Outcome, now: datetime) -> dict[str, Any]:
        if outcome.error is None:
            return {"delivered_at": now, "last_error": None}
        attempts = outcome.claim.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "last_error": outcome.error}
        if attempts >= self._max_attempts:
            values["abandoned_at"] = now
            log.warning(
                "abandoned event %s to %s after %d attempts (%s)",
                outcome.claim.event_id,
                outcome.claim.endpoint,
                attempts,
                outcome.error,
            )
        else:
            values["next_attempt_at"] = now + backoff(attempts, jitter=self._jitter())
        return values
