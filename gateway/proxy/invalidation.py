"""PostgreSQL LISTEN on a dedicated connection, feeding the proxy's caches.

Triggers on ``connections`` and ``service_clients`` (migration 0005) ``NOTIFY`` on commit whenever a
token, a status or a client changes, whoever wrote it. This listener, one per process and started in
the lifespan, hands each notification to its channel's handler. The caches it guards are live only
while it listens: on losing the connection it suspends them at once, reconnects with a pause between
tries, and resumes them (empty) once it listens again. A ping every few seconds finds a connection
that died without a word.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import asyncpg
from sqlalchemy.engine import URL

from gateway.kit.jobs import log_job_failure
from gateway.proxy.cache import LocalCache

log = logging.getLogger(__name__)

CONNECTION_CHANNEL = "gateway_connection_changed"
CLIENT_CHANNEL = "gateway_service_client_changed"
APPLICATION_NAME = "gateway-cache-listener"
RETRY_SECONDS = 1.0
PING_SECONDS = 5.0
PING_TIMEOUT_SECONDS = 3.0
CONNECT_TIMEOUT_SECONDS = 5.0

Handler = Callable[[str], None]


def connect_params(url: URL) -> dict[str, Any]:
    """asyncpg's keyword arguments for the database SQLAlchemy's engine uses."""
    _, params = url.get_dialect()().create_connect_args(url)
    accepted = inspect.signature(asyncpg.connect).parameters
    return {name: value for name, value in params.items() if name in accepted}


class ChangeListener:
    def __init__(
        self,
        url: URL,
        handlers: Mapping[str, Handler],
        caches: Sequence[LocalCache[Any, Any]],
        *,
        retry_seconds: float = RETRY_SECONDS,
        ping_seconds: float = PING_SECONDS,
    ) -> None:
        self._params = connect_params(url)
        self._handlers = dict(handlers)
        self._caches = list(caches)
        self._retry_seconds = retry_seconds
        self._ping_seconds = ping_seconds
        self.listening = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Listen until ``stop`` is set, reconnecting whenever the connection is lost."""
        while not stop.is_set():
            try:
                await self._listen_once(stop)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("cache listener lost PostgreSQL (%s); caches off until it is back", exc)
            except Exception:
                log_job_failure(log, "cache listener failed; caches off until it is back")
            finally:
                self._suspend()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._retry_seconds)

    async def _listen_once(self, stop: asyncio.Event) -> None:
        connection = await asyncpg.connect(
            **self._params,
            timeout=CONNECT_TIMEOUT_SECONDS,
            server_settings={"application_name": APPLICATION_NAME},
        )
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        try:
            for channel in self._handlers:
                await connection.add_listener(channel, self._dispatch)
            for cache in self._caches:
                cache.resume()
            self.listening.set()
            log.info("cache listener is listening on %s", ", ".join(self._handlers))
            while not stop.is_set() and not lost.is_set():
                await _first(stop.wait(), lost.wait(), seconds=self._ping_seconds)
                if not stop.is_set() and not lost.is_set():
                    await connection.fetchval("SELECT 1", timeout=PING_TIMEOUT_SECONDS)
            if lost.is_set() and not stop.is_set():
                log.warning("cache listener's PostgreSQL connection closed; reconnecting")
        finally:
            self._suspend()
            if not connection.is_closed():
                try:
                    await asyncio.wait_for(connection.close(), PING_TIMEOUT_SECONDS)
                except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    connection.terminate()

    def _suspend(self) -> None:
        self.listening.clear()
        for cache in self._caches:
            cache.suspend()

    def _dispatch(self, _connection: object, _pid: int, channel: str, payload: str) -> None:
        handler = self._handlers.get(channel)
        if handler is None:
            return
        try:
            handler(payload)
        except Exception:
            # A payload we cannot read must not leave a stale entry behind: forget everything.
            log.exception("cache listener could not handle a %s notification; clearing", channel)
            for cache in self._caches:
                cache.clear()


async def _first(*waits: Any, seconds: float) -> None:
    """Wait for the first of ``waits`` to finish, or ``seconds``; cancel the rest."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
