"""The change feed: a process's one PostgreSQL ``LISTEN`` connection, shared by every part of the
process that must hear of what other processes commit.

A part registers its channels with the feed (``ChangeFeed.register``): a handler per channel,
called with each notification's payload, and two callbacks of its own:

- ``lost``, called the moment the feed stops hearing (its connection failed, closed or stopped
  answering pings; or the process stops): from then on notifications may go unheard;
- ``catch_up``, called each time the feed listens again, the first time included, since whatever
  was committed while it did not listen went unheard; and after one of the part's handlers failed
  on a notification, since what that one said is unknown.

A part whose state follows the notifications (a cache) stops using it on ``lost`` and starts again
from the database on ``catch_up``; a part that acts on request (a reload) acts on ``catch_up``, in
case a request was missed.

The feed is built once per process by the composition root, registered with before it runs, and run
in the lifespan (or the worker) until its stop event is set. It reconnects with a pause between
tries, and pings every few seconds to find a connection that died without a word. ``state`` says
whether it listens now, and since when (``/readyz`` reports it).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy.engine import URL

from gateway.kit import jobs
from gateway.kit.clock import utcnow

log = logging.getLogger(__name__)

APPLICATION_NAME = "gateway-change-feed"
RETRY_SECONDS = 1.0
PING_SECONDS = 5.0
PING_TIMEOUT_SECONDS = 3.0
CONNECT_TIMEOUT_SECONDS = 5.0
FAILURES = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)

Handler = Callable[[str], None]


@dataclass(frozen=True)
class FeedState:
    """Whether the feed listens, and since when it has (or has not: since it stopped listening,
    or, before it first listened, since it was built)."""

    listening: bool
    since: datetime


@dataclass(frozen=True)
class _Registration:
    lost: Callable[[], None]
    catch_up: Callable[[], None]


def connect_params(url: URL) -> dict[str, Any]:
    """asyncpg's keyword arguments for the database SQLAlchemy's engine uses."""
    _, params = url.get_dialect()().create_connect_args(url)
    accepted = inspect.signature(asyncpg.connect).parameters
    return {name: value for name, value in params.items() if name in accepted}


class ChangeFeed:
    def __init__(
        self,
        url: URL,
        *,
        retry_seconds: float = RETRY_SECONDS,
        ping_seconds: float = PING_SECONDS,
    ) -> None:
        self._params = connect_params(url)
        self._retry_seconds = retry_seconds
        self._ping_seconds = ping_seconds
        self._handlers: dict[str, tuple[Handler, _Registration]] = {}
        self._registrations: list[_Registration] = []
        self._running = False
        self.listening = asyncio.Event()
        self._since = utcnow()

    def state(self) -> FeedState:
        return FeedState(self.listening.is_set(), self._since)

    def register(
        self,
        handlers: Mapping[str, Handler],
        *,
        lost: Callable[[], None],
        catch_up: Callable[[], None],
    ) -> None:
        """Hear ``handlers``' channels (each with its own handler), with ``lost`` and ``catch_up``
        called as the module says. Only before ``run``; a channel has one handler."""
        if self._running:
            raise RuntimeError("a change feed's channels are registered before it runs")
        taken = sorted(self._handlers.keys() & handlers.keys())
        if taken:
            raise ValueError(f"already registered with the change feed: {', '.join(taken)}")
        registration = _Registration(lost, catch_up)
        self._registrations.append(registration)
        for channel, handler in handlers.items():
            self._handlers[channel] = (handler, registration)

    async def run(self, stop: asyncio.Event) -> None:
        """Listen until ``stop`` is set, reconnecting whenever the connection is lost; with no
        channel registered, only wait for ``stop``."""
        self._running = True
        if not self._handlers:
            await stop.wait()
            return

        async def one_round() -> bool:
            try:
                await self._listen_once(stop)
            except FAILURES as exc:
                log.warning("change feed lost PostgreSQL (%s); reconnecting", exc)
            finally:
                self._lose()
            return False

        failed = "change feed failed; reconnecting"
        await jobs.every(self._retry_seconds, stop, one_round, log=log, failed=failed)

    async def _listen_once(self, stop: asyncio.Event) -> None:
        connection = await asyncpg.connect(
            **self._params,
            timeout=CONNECT_TIMEOUT_SECONDS,
            server_settings={"application_name": APPLICATION_NAME},
        )
        closed = asyncio.Event()
        connection.add_termination_listener(lambda _: closed.set())
        try:
            for channel in self._handlers:
                await connection.add_listener(channel, self._dispatch)
            self.listening.set()
            self._since = utcnow()
            for registration in self._registrations:
                _guarded("catching up", registration.catch_up)
            log.info("change feed is listening on %s", ", ".join(self._handlers))
            while not stop.is_set() and not closed.is_set():
                await _first(stop.wait(), closed.wait(), seconds=self._ping_seconds)
                if not stop.is_set() and not closed.is_set():
                    await connection.fetchval("SELECT 1", timeout=PING_TIMEOUT_SECONDS)
            if closed.is_set() and not stop.is_set():
                log.warning("change feed's PostgreSQL connection closed; reconnecting")
        finally:
            self._lose()
            if not connection.is_closed():
                try:
                    await asyncio.wait_for(connection.close(), PING_TIMEOUT_SECONDS)
                except FAILURES:
                    connection.terminate()

    def _lose(self) -> None:
        """Tell every part the feed no longer hears, once per time it listened."""
        if not self.listening.is_set():
            return
        self.listening.clear()
        self._since = utcnow()
        for registration in self._registrations:
            _guarded("losing the feed", registration.lost)

    def _dispatch(self, _connection: object, _pid: int, channel: str, payload: str) -> None:
        found = self._handlers.get(channel)
        if found is None:
            return
        handler, registration = found
        try:
            handler(payload)
        except Exception:
            log.exception("change feed could not handle a %s notification; catching up", channel)
            _guarded("catching up", registration.catch_up)


def _guarded(what: str, action: Callable[[], None]) -> None:
    """Run a part's callback; one that fails is logged and leaves the feed and the others be."""
    try:
        action()
    except Exception:
        log.exception("change feed: a part failed %s", what)


async def _first(*waits: Any, seconds: float) -> None:
    """Wait for the first of ``waits`` to finish, or ``seconds``; cancel the rest."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
