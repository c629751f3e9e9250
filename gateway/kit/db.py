"""The database: URL handling, the async engine and the session factory, and what counts as the
database being unavailable.

The boundary (an endpoint, a CLI command, a job) owns the transaction: it opens one with
``async with db.transaction() as session`` and everything it calls works inside it without committing.
An idempotent read may instead go through ``db.read(work)``, which runs ``work`` once more on a fresh
connection when the first one is lost under it.

A connection is lost when its server process ends (terminated by an operator, a failover, a pooler
restart, an idle timeout) or its socket breaks. The driver reports that in several shapes, only some
of which SQLAlchemy recognises as a disconnect; ``lost_connection`` recognises them all, and the
engine invalidates such a connection (and the rest of its pool) instead of handing it out again.
``quick_read`` is for the hot path's reads of a single moment (the proxy's cache misses): no
transaction and no ping before it, on a small pool of its own in autocommit, so a read is one round
trip where ``read`` makes six (the pre-ping's BEGIN, ping and ROLLBACK, then BEGIN, the query and
COMMIT); on a loopback database the gateway's processor time per miss is mostly those sends.
``unavailable`` is the one answer to "is this error the database being unreachable, full or gone?"
that every boundary asks: the app's error handlers, the proxy's front door, the background jobs.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
import sqlalchemy.exc
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from gateway.kit.backoff import backoff_seconds
from gateway.kit.tracing import trace_database

ASYNC_DRIVER = "postgresql+asyncpg"
# ``quick_read``'s connections, taken from the process's budget of 2 x ``pool_size`` (the main
# pool's overflow is that much smaller): its reads are batched by their callers, so few run at once.
QUICK_POOL_SIZE = 2
# ``persist``: the pause before writing again after an outage, backing off up to the most.
PERSIST_FIRST_PAUSE_SECONDS = 0.05
PERSIST_MAX_PAUSE_SECONDS = 1.0

T = TypeVar("T")

# The driver's errors that mean the connection is gone or cannot be trusted: the server ended the
# session (class 57 shutdowns, idle timeouts), the link broke (class 08 and the client-side
# "connection is closed"), or the protocol got out of step with the server after one of those
# (asyncpg's InternalClientError: "another operation is in progress").
_LOST = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.DatabaseDroppedError,
    asyncpg.exceptions.IdleSessionTimeoutError,
    asyncpg.exceptions.IdleInTransactionSessionTimeoutError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)
# The server is up but refuses work for now: out of connections or resources, or a standby that
# cannot write (a failover in progress).
_REFUSED = (
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.ReadOnlySQLTransactionError,
)
# SQLAlchemy's own: the pool could not hand out a connection in time, or could not open one.
_POOL = (sqlalchemy.exc.TimeoutError, sqlalchemy.exc.DisconnectionError)


def _network(exc: BaseException) -> bool:
    """A socket that could not connect or broke. Plain ``OSError`` is how asyncio reports an
    unreachable host or several failed addresses; its subclasses for files are not network errors."""
    return isinstance(exc, (ConnectionError, TimeoutError, socket.gaierror)) or type(exc) is OSError


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and the errors it was raised from or while handling, innermost last."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def lost_connection(exc: BaseException) -> bool:
    """Whether a driver error (or one it was raised from) means its connection is gone."""
    return any(isinstance(e, _LOST) or _network(e) for e in _causes(exc))


def error_name(exc: BaseException) -> str:
    """The error's class and its driver's underneath (never its message, which may quote SQL)."""
    cause = exc.__cause__
    return f"{type(exc).__name__} ({type(cause).__name__})" if cause else type(exc).__name__


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot serve right now (a 503 for the caller to retry),
    rather than a bug: a lost connection, a refused one, or a pool that has none to give."""
    for error in _causes(exc):
        if isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)):
            return True
        if isinstance(error, _LOST + _REFUSED + _POOL) or _network(error):
            return True
    return False


def _invalidate_lost_connections(context: ExceptionContext) -> None:
    """Mark the driver's every shape of a lost connection as a disconnect, so the pool throws it
    away (and, on a failover, the connections opened before it) instead of handing it out again;
    during the pre-ping this makes the pool open a fresh connection in its place."""
    if not context.is_disconnect and lost_connection(context.original_exception):
        context.is_disconnect = True


def _forward_events(source: Engine, target: Engine) -> None:
    """``source``'s statements and errors seen by ``target``'s listeners, as if they were its own:
    the lost-connection check, tracing, and whoever else counts statements on the database."""
    dispatch = target.dispatch
    # ``handle_error`` is a dialect's event: listened for on an engine, it is kept by its dialect.
    dialect_dispatch: Any = target.dialect.dispatch

    def before(*args: Any) -> None:
        dispatch.before_cursor_execute(*args)

    def after(*args: Any) -> None:
        dispatch.after_cursor_execute(*args)

    def failed(context: ExceptionContext) -> None:
        dialect_dispatch.handle_error(context)

    event.listen(source, "before_cursor_execute", before)
    event.listen(source, "after_cursor_execute", after)
    event.listen(source, "handle_error", failed)


class DatabaseUrlError(ValueError):
    """Raised when a database URL is not a PostgreSQL URL."""


def async_url(url: str) -> URL:
    """Accept ``postgres://`` and ``postgresql://`` URLs as every other tool writes them."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUrlError("the database URL is not a valid URL") from exc
    if parsed.drivername not in ("postgres", "postgresql", ASYNC_DRIVER):
        raise DatabaseUrlError(
            f"the database URL must start with postgresql:// (got {parsed.drivername}://)"
        )
    query = dict(parsed.query)
    # libpq spells it sslmode; asyncpg takes the same values as ssl.
    if "sslmode" in query:
        query["ssl"] = query.pop("sslmode")
    return parsed.set(drivername=ASYNC_DRIVER, query=query)


def sync_url(url: URL) -> str:
    """The same database as a plain libpq URL (for psql, pg_dump and humans)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class Database:
    """An engine and its session factory; created in the lifespan, disposed on shutdown."""

    def __init__(self, url: URL, *, pool_size: int = 10) -> None:
        """At most 2 x ``pool_size`` connections in all, ``quick_read``'s included."""
        self.url = url
        quick = min(QUICK_POOL_SIZE, pool_size)
        self.engine: AsyncEngine = create_async_engine(
            url, pool_size=pool_size, max_overflow=pool_size - quick, pool_pre_ping=True
        )
        event.listen(self.engine.sync_engine, "handle_error", _invalidate_lost_connections)
        trace_database(self.engine.sync_engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Connections are opened on first use only: a process that never calls ``quick_read``
        # holds none.
        self._quick_engine: AsyncEngine = create_async_engine(
            url,
            pool_size=quick,
            max_overflow=0,
            isolation_level="AUTOCOMMIT",
        )
        _forward_events(self._quick_engine.sync_engine, self.engine.sync_engine)
        self._quick_sessions = async_sessionmaker(self._quick_engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """``work``'s result, read in a transaction of its own. ``work`` must only read: when the
        connection it ran on is lost, it runs once more on a fresh one (the lost connection's pool
        was invalidated with it, so the second attempt does not get a sibling of the dead one)."""
        try:
            async with self.transaction() as session:
                return await work(session)
        except sqlalchemy.exc.DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        async with self.transaction() as session:
            return await work(session)

    async def quick_read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """``work``'s result, read without a transaction: each statement sees what is committed
        when it runs, so ``work`` should be one statement (or not mind the moments between them).
        Nothing checks the connection before: when it turns out lost, ``work`` runs once more on a
        fresh one (its pool invalidated with it), as in ``read``."""
        try:
            async with self._quick_sessions() as session:
                return await work(session)
        except sqlalchemy.exc.DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        async with self._quick_sessions() as session:
            return await work(session)

    async def persist(
        self,
        work: Callable[[AsyncSession], Awaitable[T]],
        *,
        within: float,
        retrying: Callable[[Exception], object] | None = None,
    ) -> T:
        """``work``'s result, written in a transaction of its own. While the database is unavailable
        it runs again on a fresh connection, after a short pause, for at most ``within`` seconds;
        then the outage is raised. ``retrying`` is told of each failure after which ``work`` runs
        again (to answer a caller that should not wait for the outage to end). ``work`` must be
        safe to run twice (a compare-and-swap, say): a commit whose answer was lost (the connection
        dropped during COMMIT) may have been applied already."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + within
        failures = 0
        while True:
            try:
                async with self.transaction() as session:
                    return await work(session)
            except Exception as exc:
                failures += 1
                pause = backoff_seconds(
                    failures, base=PERSIST_FIRST_PAUSE_SECONDS, cap=PERSIST_MAX_PAUSE_SECONDS
                )
                if not unavailable(exc) or loop.time() + pause > give_up:
                    raise
                if retrying is not None:
                    retrying(exc)
            await asyncio.sleep(pause)

    async def dispose(self) -> None:
        await self.engine.dispose()
        await self._quick_engine.dispose()
