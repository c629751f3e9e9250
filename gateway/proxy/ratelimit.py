"""Per-client rate limits: a token bucket per client, in this process.

Per replica by design: a bucket costs no round trip and no shared state, and the operator sets each
client's limit as its share per replica (a cluster of N replicas admits up to N times the rate).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from gateway.clients.limits import RateLimit


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # client id -> (tokens left, when last counted)
        self._buckets: dict[uuid.UUID, tuple[float, float]] = {}

    def take(self, client_id: uuid.UUID, limit: RateLimit) -> float | None:
        """Spend one request; None if admitted, else the seconds until one would be."""
        now = self._clock()
        tokens, then = self._buckets.get(client_id, (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + (now - then) * limit.per_second)
        if tokens >= 1.0:
            self._buckets[client_id] = (tokens - 1.0, now)
            return None
        self._buckets[client_id] = (tokens, now)
        return (1.0 - tokens) / limit.per_second
