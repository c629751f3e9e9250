"""Polling to a deadline: the tests wait for conditions, never for fixed times."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection

POLL_SECONDS = 0.1


async def until(
    condition: Callable[[], Awaitable[bool]],
    *,
    within: float,
    what: str,
    every: float = POLL_SECONDS,
) -> float:
    """Wait until ``condition`` holds; returns the seconds it took."""
    started = time.monotonic()
    while not await condition():
        if time.monotonic() - started > within:
            raise AssertionError(f"not true after {within:.0f}s: {what}")
        await asyncio.sleep(every)
    return time.monotonic() - started


async def until_empty(
    outstanding: Callable[[], Awaitable[Collection[object]]], *, within: float, what: str
) -> float:
    """Wait until ``outstanding`` returns nothing; on timeout, say what was left. Returns the
    seconds it took."""
    started = time.monotonic()
    while left := await outstanding():
        if time.monotonic() - started > within:
            sample = list(left)[:5]
            raise AssertionError(f"after {within:.0f}s, {len(left)} left: {what} (e.g. {sample})")
        await asyncio.sleep(POLL_SECONDS)
    return time.monotonic() - started
