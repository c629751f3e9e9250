"""The cluster's gauges: figures about the whole cluster, read from PostgreSQL for the scrape
(``gateway.scrape``), at most once per interval per process.

Contract of ``ClusterReads.latest``:

- a read starts only when the figures in hand are at least ``interval`` seconds old (or there are
  none); scrapes that come meanwhile are served the figures in hand;
- concurrent scrapes share the one read in flight (single-flight);
- a scrape waits at most ``wait`` seconds for a read; past that it is served the figures in hand
  and the read goes on, its figures kept for later scrapes; a read is abandoned after
  ``READ_TIMEOUT_SECONDS``;
- a read that fails (the database is down, say) is logged and leaves the figures in hand as they
  are; the next scrape tries again. So a scrape never fails for the database's sake: it shows the
  process's counters, and the cluster's figures with their age (``+Inf`` before the first read).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from gateway.kit.db import error_name

log = logging.getLogger(__name__)

WAIT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class ClusterFigures:
    """What the cluster's gauges show, as of the read: times are seconds from the read's moment."""

    connections: Mapping[tuple[str, str], int]  # by (provider, status)
    refresh_backlog: Mapping[str, int]  # by provider
    soonest_expiry: Mapping[str, float]  # by provider; absent: no active connection's expiry known
    breaker_open: Mapping[str, bool]  # by provider
    outbox_lag: float
    dead_letters: int
    budget: Mapping[str, tuple[int, int]]  # by provider: (used, limit), for budgeted providers


@dataclass(frozen=True)
class Latest:
    """The figures in hand and how many seconds ago their read began (None: no read succeeded)."""

    figures: ClusterFigures | None
    age: float

    @classmethod
    def none(cls) -> Latest:
        return cls(None, math.inf)


class ClusterReads:
    """This process's last cluster figures and the read in flight, if any (module docstring)."""

    def __init__(self, interval: float, *, wait: float = WAIT_SECONDS) -> None:
        self._interval = interval
        self._wait = wait
        self._figures: ClusterFigures | None = None
        self._read_at = -math.inf
        self._reading: asyncio.Task[None] | None = None

    async def latest(self, read: Callable[[], Awaitable[ClusterFigures]]) -> Latest:
        """The figures to show now, ``read`` again first if they are due (module docstring)."""
        started = time.monotonic()
        if self._reading is None and started - self._read_at >= self._interval:
            self._reading = asyncio.create_task(self._read(read, started))
        if self._reading is not None:
            # asyncio.wait cancels nothing: a scrape that gives up, or is cancelled, leaves the
            # read to finish for the next ones.
            await asyncio.wait({self._reading}, timeout=self._wait)
        if self._figures is None:
            return Latest.none()
        return Latest(self._figures, time.monotonic() - self._read_at)

    async def _read(self, read: Callable[[], Awaitable[ClusterFigures]], started: float) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT_SECONDS):
                figures = await read()
        except Exception as exc:
            log.warning(
                "could not read the cluster's gauges from PostgreSQL (%s); "
                "scrapes show the last figures, with their age",
                error_name(exc),
            )
        else:
            self._figures = figures
            self._read_at = started
        finally:
            self._reading = None
