"""The ``Deliverer``: sends outbox events to their endpoints, signed, at least once.

An operator-wide delivery is signed with the operator's secrets and sent to its configured URL. A
subscription's is signed with that subscription's unexpired secrets and sent only where the egress
policy allows: its URL's host is resolved and checked at each attempt, and the request goes to the
address checked, follows no redirect and is bounded in time. A disabled subscription's deliveries
wait until it is enabled again.

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

from gateway.events import signing, subscriptions
from gateway.kit import egress, jobs
from gateway.kit.backoff import backoff_seconds
from gateway.kit.clock import utcnow
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import EventDelivery, OutboxEvent, Subscription

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
BASE_DELAY_SECONDS = 5.0
MAX_DELAY_SECONDS = 3600.0
JITTER_FRACTION = 0.2
# Longer than a send can take, so a claim outlives its POST; a crashed worker's rows come back after.
CLAIM_SECONDS = 120.0
SEND_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# A subscription's endpoint gets this long for the whole exchange, connection included.
SEND_TOTAL_SECONDS = 30.0

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Claim:
    """A delivery taken by this worker: everything needed to send it, read before the commit."""

    delivery_id: uuid.UUID
    event_id: uuid.UUID
    endpoint: str
    attempts: int
    body: bytes
    # The subscription's id and the keys signing for it; None and () for an operator-wide endpoint.
    subscription_id: uuid.UUID | None = None
    keys: tuple[signing.SigningKey, ...] = ()


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
        keys: KeyRing | None = None,
        egress_policy: egress.EgressPolicy | None = None,
        clock: Clock = utcnow,
        max_attempts: int = MAX_ATTEMPTS,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._db = db
        self._http = http
        self._keys = signing.parse_secrets(secrets)
        # Without the key ring, subscriptions' secrets stay sealed: only operator-wide deliveries go.
        self._ring = keys
        self._egress = egress_policy or egress.EgressPolicy()
        self._clock = clock
        self._max_attempts = max_attempts
        self._jitter = jitter

    async def deliver_due(self, limit: int = 50) -> int:
        """One pass; returns how many deliveries it attempted."""
        if not self._keys and self._ring is None:
            log.error(
                "no event signing secrets configured (GATEWAY_EVENT_SIGNING_SECRETS); "
                "events stay pending"
            )
            return 0
        return len(await self._deliver(await self._claim(limit)))

    async def deliver(self, delivery_ids: Sequence[uuid.UUID]) -> list[Outcome]:
        """Attempt these deliveries now if they are pending (due or not); their outcomes."""
        return await self._deliver(await self._claim(len(delivery_ids), only=delivery_ids))

    async def _deliver(self, claims: Sequence[Claim]) -> list[Outcome]:
        if not claims:
            return []
        outcomes = await asyncio.gather(*(self._send(claim) for claim in claims))
        await self._record(outcomes)
        return list(outcomes)

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        """Deliver until ``stop`` is set; a full batch is followed by the next pass at once."""
        limit = 50

        async def one_round() -> bool:
            return await self.deliver_due(limit) >= limit

        await jobs.every(interval, stop, one_round, log=log, failed="event delivery pass failed")

    async def _claim(self, limit: int, only: Sequence[uuid.UUID] | None = None) -> list[Claim]:
        now = self._clock()
        query = (
            select(EventDelivery, OutboxEvent)
            .join(OutboxEvent, OutboxEvent.id == EventDelivery.event_id)
            .outerjoin(Subscription, Subscription.id == EventDelivery.subscription_id)
            .where(
                EventDelivery.delivered_at.is_(None),
                EventDelivery.abandoned_at.is_(None),
                EventDelivery.subscription_id.is_(None) | Subscription.enabled.is_(True),
            )
            .order_by(EventDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(of=EventDelivery, skip_locked=True)
        )
        if only is None:
            query = query.where(EventDelivery.next_attempt_at <= now)
        else:
            query = query.where(EventDelivery.id.in_(only))
        if not self._keys:
            query = query.where(EventDelivery.subscription_id.is_not(None))
        if self._ring is None:
            query = query.where(EventDelivery.subscription_id.is_(None))
        async with self._db.transaction() as session:
            rows = (await session.execute(query)).all()
            wanted = {d.subscription_id for d, _ in rows if d.subscription_id is not None}
            keys = (
                await subscriptions.signing_keys(session, self._ring, wanted, now)
                if wanted and self._ring is not None
                else {}
            )
            claims = [
                Claim(
                    delivery_id=delivery.id,
                    event_id=event.id,
                    endpoint=delivery.endpoint,
                    attempts=delivery.attempts,
                    body=signing.payload(event.type, event.occurred_at, event.data),
                    subscription_id=delivery.subscription_id,
                    keys=keys.get(delivery.subscription_id, ()) if delivery.subscription_id else (),
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
        if claim.subscription_id is not None:
            return await self._send_to_subscription(claim)
        timestamp = int(self._clock().timestamp())
        headers = signing.headers(self._keys, str(claim.event_id), timestamp, claim.body)
        try:
            response = await self._http.post(
                claim.endpoint, content=claim.body, headers=headers, timeout=SEND_TIMEOUT
            )
        except httpx.HTTPError as exc:
            # The class only: an exception's text may quote a URL with credentials in it.
            return Outcome(claim, type(exc).__name__)
        return _outcome(claim, response.status_code)

    async def _send_to_subscription(self, claim: Claim) -> Outcome:
        if not claim.keys:
            return Outcome(claim, "no signing secret of the subscription opens")
        timestamp = int(self._clock().timestamp())
        headers = signing.headers(claim.keys, str(claim.event_id), timestamp, claim.body)
        try:
            destination = await self._egress.resolve(claim.endpoint)
            status = await egress.post(
                self._http,
                destination,
                claim.body,
                headers,
                seconds=SEND_TOTAL_SECONDS,
            )
        except egress.RefusedDestination as exc:
            return Outcome(claim, f"refused: {exc.code}")
        except (httpx.HTTPError, TimeoutError) as exc:
            return Outcome(claim, type(exc).__name__)
        return _outcome(claim, status)

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


def _outcome(claim: Claim, status: int) -> Outcome:
    """Delivered on a 2xx; anything else (a redirect too, which is never followed) failed."""
    return Outcome(claim, None if 200 <= status < 300 else f"HTTP {status}")
