"""Deadlines for the proxy's exchanges, kept by one watchdog rather than a timer each.

``asyncio.timeout_at`` arms an event-loop timer for every use, and on uvloop arming and disarming
one costs about a sixth of all the rest the proxy does for a call. Here a deadline is an entry in a
dictionary: one watchdog task looks every ``RESOLUTION`` seconds and cancels each task whose
deadline has passed; the task's ``limit`` block then raises ``TimeoutError``, exactly as
``asyncio.timeout_at`` would. A deadline may so be overrun by up to ``RESOLUTION``, which is
nothing next to the proxy's timeouts (seconds).

Deadlines are on ``time.monotonic``'s clock. Nothing here asks asyncio for the running loop per
call: on Python 3.11 every such question is a ``getpid`` system call.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType

RESOLUTION = 0.05


class Deadline:
    """``with watchdog.limit(when):`` TimeoutError if the block, inside a task, runs past
    ``when`` (``time.monotonic``; it may be moved while the block runs). A plain context
    manager: entering and leaving cost two dictionary operations and no coroutine."""

    __slots__ = ("_expired", "_loop", "_pending", "_task", "when")

    def __init__(
        self,
        pending: dict[Deadline, None],
        when: float,
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self._pending = pending
        self.when = when
        self._loop = loop
        self._task: asyncio.Task[object] | None = None
        self._expired = False

    def __enter__(self) -> Deadline:
        self._task = asyncio.current_task(self._loop)
        self._pending[self] = None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        del self._pending[self]
        if self._expired and exc_type is asyncio.CancelledError:
            assert self._task is not None
            if self._task.uncancel() == 0:  # cancelled by us alone, not also from outside
                raise TimeoutError from exc

    def expire(self) -> None:
        if not self._expired and self._task is not None:
            self._expired = True
            self._task.cancel()


class Watchdog:
    """One per process, run by the lifespan (``run``); deadlines only expire while it runs."""

    def __init__(self) -> None:
        self._pending: dict[Deadline, None] = {}
        self._loop: asyncio.AbstractEventLoop | None = None  # the watchdog's, once it runs

    def limit(self, when: float) -> Deadline:
        return Deadline(self._pending, when, self._loop)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        while not stop.is_set():
            await asyncio.sleep(RESOLUTION)
            now = time.monotonic()
            for deadline in [d for d in self._pending if d.when <= now]:
                deadline.expire()
