"""When the proxy may try a request again, and how long it waits first.

A retry must not do the work twice. So only these are retried: GET, HEAD, OPTIONS, PUT and DELETE
(idempotent by definition) and any request carrying an ``Idempotency-Key`` (the provider runs it
once and replays the answer); only on a connection failure, a timeout, or a 502, 503 or 504; and only
while the body can be sent again. Any other request (a plain POST or PATCH) is retried only when
the failure came before a byte of it left the gateway (the connection could not be opened), which
cannot have reached the provider. A 429 is never retried: it goes back with its ``Retry-After``, as
does a 502/503/504 whose ``Retry-After`` is longer than the gateway is willing to wait.

Waits are capped exponential backoff with jitter (half fixed, half random), all within the
request's total deadline: no wait runs past it, and an attempt it cuts short fails with 504.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from gateway.settings import Settings

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRIED_STATUSES = frozenset({502, 503, 504})


def repeatable(method: str, has_idempotency_key: bool) -> bool:
    """Whether sending the request twice has the effect of sending it once."""
    return method in IDEMPOTENT_METHODS or has_idempotency_key


def retry_after_seconds(value: bytes | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent or bad."""
    if value is None:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float
    total_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_attempts=settings.proxy_max_attempts,
            base_seconds=settings.proxy_retry_base_seconds,
            max_seconds=settings.proxy_retry_max_seconds,
            total_seconds=settings.proxy_total_timeout_seconds,
        )

    def wait(
        self,
        attempt: int,
        remaining: float,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None when there is to be none."""
        if attempt >= self.max_attempts:
            return None
        ceiling = min(self.max_seconds, self.base_seconds * 2.0 ** (attempt - 1))
        delay = ceiling / 2 + (rng or random).random() * ceiling / 2
        if retry_after is not None:
            if retry_after > self.max_seconds:
                return None
            delay = max(delay, retry_after)
        if delay >= remaining:
            return None
        return delay
