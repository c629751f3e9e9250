"""Who is calling the proxy, and whether their rate limit lets them: the service keys and
delegated keys authenticated once and cached (``ClientKeys``), and each client's token bucket in
this process (``RateLimiter``). The admission (``admission``) uses both on every call it decides.

Rate limits are per replica by design: a bucket costs no round trip and no shared state, and the
operator sets each client's limit as its share per replica (N replicas admit up to N times it).
Within a replica the serving processes split it (``RateLimiter``), so ``--workers`` changes nothing
for the operator.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from gateway.clients.limits import RateLimit
from gateway.clients.service_keys import hash_key, lookup_prefix
from gateway.clients.store import Principal, authenticate_proxy
from gateway.kit.db import Database
from gateway.proxy.cache import LocalCache


class ClientKeys:
    """Service keys and delegated keys authenticated once, then cached under their SHA-256 (the key
    itself is not kept); dropped on every replica per client when the client is changed or
    disabled, and per delegated key when it is revoked."""

    def __init__(self, db: Database, cache: LocalCache[str, Principal]) -> None:
        self._db = db
        self.cache = cache

    async def authenticate(self, key: str) -> Principal | None:
        if lookup_prefix(key) is None:
            return None
        digest = hash_key(key)
        cached = self.cache.get(digest)
        if cached is not None:
            return cached
        epoch = self.cache.epoch
        principal = await self._db.read(lambda session: authenticate_proxy(session, key))
        if principal is not None:
            self.cache.put(digest, principal, epoch)
        return principal

    def client_changed(self, payload: str) -> None:
        """The change feed's handler: the id of a changed (or deleted) service client."""
        client_id = uuid.UUID(payload)
        self.cache.invalidate_where(lambda principal: principal.client_id == client_id)

    def delegated_key_changed(self, payload: str) -> None:
        """The change feed's handler: the id of a revoked (or deleted) delegated key."""
        key_id = uuid.UUID(payload)
        self.cache.invalidate_where(lambda principal: principal.delegated_key_id == key_id)


class RateLimiter:
    """A token bucket per client, in this process: with ``processes`` serving processes on the
    machine (``gateway serve --workers``), this one's share, refilled at 1/``processes`` of the
    client's rate and holding 1/``processes`` of its burst (at least one request), so that all of
    them together never admit more than the limit."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, processes: int = 1) -> None:
        self._clock = clock
        self._share = 1.0 / processes
        # client id -> (tokens left, when last counted)
        self._buckets: dict[uuid.UUID, tuple[float, float]] = {}

    def take(self, client_id: uuid.UUID, limit: RateLimit) -> float | None:
        """Spend one request; None if admitted, else the seconds until one would be."""
        now = self._clock()
        burst = max(1.0, limit.burst * self._share)
        per_second = limit.per_second * self._share
        tokens, then = self._buckets.get(client_id, (burst, now))
        tokens = min(burst, tokens + (now - then) * per_second)
        if tokens >= 1.0:
            self._buckets[client_id] = (tokens - 1.0, now)
            return None
        self._buckets[client_id] = (tokens, now)
        return (1.0 - tokens) / per_second
