"""Capped exponential backoff: how long to wait after the n-th failure in a row."""

from __future__ import annotations

import random


def backoff_seconds(
    failures: int,
    *,
    base: float,
    cap: float,
    jitter: float = 0.0,
    draw: float | None = None,
    at_least: float | None = None,
) -> float:
    """``base`` doubled for each failure after the first, at most ``cap``; less a random part of up
    to ``jitter`` (a fraction) of it, so that waiters that failed together do not come back
    together; never less than ``at_least`` (a Retry-After), itself capped at ``cap``.

    ``draw`` (in [0, 1]) picks the random part, the whole ``jitter`` at 1; random when None.
    """
    ceiling = min(cap, base * 2.0 ** max(0, failures - 1))
    if draw is None:
        draw = random.random()  # noqa: S311 (spread, not secrecy)
    delay = ceiling * (1 - jitter * draw)
    if at_least is not None:
        delay = max(delay, min(at_least, cap))
    return delay
