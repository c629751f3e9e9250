"""When to refresh and how long to back off: pure functions of time, lifetimes and settings."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from gateway.kit import backoff
from gateway.settings import Settings

MAX_BACKOFF_SECONDS = 900.0
BASE_BACKOFF_SECONDS = 5.0


def next_refresh_at(
    issued_at: datetime, lifetime_seconds: int, settings: Settings, rng: random.Random | None = None
) -> datetime:
    """Once ``refresh_at_fraction`` of the token's life has passed, minus jitter to spread the load."""
    jitter = (rng or random).random() * settings.refresh_jitter_fraction * lifetime_seconds
    return issued_at + timedelta(seconds=lifetime_seconds * settings.refresh_at_fraction - jitter)


def refresh_margin(lifetime_seconds: int | None, settings: Settings) -> float:
    """How close to expiry the proxy refreshes before forwarding.

    Capped at (1 - fraction) x lifetime, so a short-lived token is not refreshed on every call.
    """
    if lifetime_seconds is None:
        return float(settings.refresh_margin_seconds)
    cap = (1 - settings.refresh_at_fraction) * lifetime_seconds
    return min(float(settings.refresh_margin_seconds), cap)


def backoff_seconds(failures: int, retry_after: float | None = None) -> float:
    """The wait after ``failures`` failed attempts in a row (half of it jitter); never sooner than
    the provider's Retry-After."""
    return backoff.backoff_seconds(
        failures,
        base=BASE_BACKOFF_SECONDS,
        cap=MAX_BACKOFF_SECONDS,
        jitter=0.5,
        at_least=retry_after,
    )


def refresh_after_401(last: datetime | None, now: datetime, settings: Settings) -> bool:
    """Whether an upstream 401 may refresh a connection whose last 401-forced refresh was at
    ``last``: at most once per cool-down, so a provider endpoint that always answers 401 neither
    rotates the grant on every call nor spends the budget."""
    if last is None:
        return True
    return now - last >= timedelta(seconds=settings.proxy_401_refresh_cooldown_seconds)
