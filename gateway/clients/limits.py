"""A service client's rate limit: ``RATE/UNIT`` (``50/s``, ``3000/min``, ``100000/h``) and a burst.

The proxy enforces it with a token bucket in each replica (see ``gateway.proxy.admission``): with N
replicas behind a load balancer a client gets up to N times the rate, so set the per-replica share.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hour": 3600.0}
_SPEC = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*([a-z]+)\s*$")
MAX_PER_SECOND = 1_000_000.0


class RateLimitError(ValueError):
    """Raised when a rate limit is malformed; the message says what is expected."""


@dataclass(frozen=True)
class RateLimit:
    per_second: float
    burst: int

    @classmethod
    def parse(cls, spec: str, burst: int | None = None) -> RateLimit:
        """``50/s`` and friends; the burst defaults to one second's worth (at least 1)."""
        match = _SPEC.match(spec.lower())
        if match is None or match.group(2) not in UNITS:
            raise RateLimitError(
                f"rate limit {spec!r}: expected RATE/UNIT with UNIT one of s, min, h (e.g. 50/s)"
            )
        per_second = float(match.group(1)) / UNITS[match.group(2)]
        if not 0 < per_second <= MAX_PER_SECOND:
            raise RateLimitError(f"rate limit {spec!r}: must be above 0 and at most 1000000/s")
        return cls.of(per_second, burst)

    @classmethod
    def of(cls, per_second: float, burst: int | None = None) -> RateLimit:
        if burst is None:
            burst = max(1, math.ceil(per_second))
        if burst < 1:
            raise RateLimitError("the burst must be at least 1")
        return cls(per_second, burst)

    def __str__(self) -> str:
        return f"{self.per_second:g}/s (burst {self.burst})"
