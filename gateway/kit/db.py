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
``quick_fetch`` is for the hot path's reads of a single moment (the proxy's cache misses): one
statement's rows, read straight through the driver on a small pool of its own, no transaction and no
ping before it, so a read is one round trip where ``read`` makes six (the pre-ping's BEGIN, ping and
ROLLBACK, then BEGIN, the query and COMMIT), and it pays for no session, ORM or execution context
(about a fifth of the processor time of the same read through SQLAlchemy, ``docs/performance.md``).
``unavailable`` is the one answer to "is this error the database being unreachable, full or gone?"
that every boundary asks: the app's error handlers, the proxy's front door, the background jobs.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

import asyncpg
import sqlalchemy.exc
from sqlalchemy import event, inspect
from sqlalchemy.engine import URL, Dialect, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from gateway.kit.backoff import backoff_seconds
from gateway.kit.tracing import trace_database, traced_statement

ASYNC_DRIVER = "postgresql+asyncpg"
# ``quick_fetch``'s connections, taken from the process's budget of 2 x ``pool_size`` (the main
# pool's overflow is that much smaller): its reads are batched by their callers, so few run at once.
QUICK_POOL_SIZE = 2
# ``persist``: the pause before writing again after an outage, backing off up to the most.
PERSIST_FIRST_PAUSE_SECONDS = 0.05
PERSIST_MAX_PAUSE_SECONDS = 1.0

T = TypeVar("T")
M = TypeVar("M")

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


async def _json_codecs(connection: asyncpg.Connection) -> None:
    """JSON and JSONB read as Python values, as the engine's connections read them."""
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def _nothing_to_reset(_connection: asyncpg.Connection) -> None:
    """``quick_fetch`` runs single statements outside a transaction and changes nothing in the
    session (no locks, cursors, listens or settings), so a connection goes back to the pool as it
    is: the driver's default reset would cost a round trip per read."""


class ColumnRows(Generic[M]):
    """Some of a mapped class's columns as ``quick_fetch`` reads them: a statement selecting them
    (``select``), and each row's values, processed as the engine would have loaded them (each
    column's type processes the driver's value as the dialect's would), given in order to ``make``
    (``of``): a record of what the reader needs, not an ORM instance."""

    def __init__(
        self, model: type[object], keys: Sequence[str], make: Callable[..., M], dialect: Dialect
    ) -> None:
        """``keys``: the mapped attributes' names, in ``make``'s order."""
        mapper = inspect(model)
        columns = [mapper.columns[key] for key in keys]
        quote = dialect.identifier_preparer.quote
        self._columns = ", ".join(quote(column.name) for column in columns)
        self._table = quote(mapper.local_table.name)
        self._make = make
        self._processors = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]

    def select(self, where: str) -> str:
        """``SELECT`` the columns ``WHERE`` the condition, whose values must be parameters
        (``$1``...): the identifiers are the model's own, quoted."""
        return f"SELECT {self._columns} FROM {self._table} WHERE {where}"  # noqa: S608

    def of(self, row: asyncpg.Record) -> M:
        return self._make(
            *[
                value if process is None else process(value)
                for process, value in zip(self._processors, row, strict=True)
            ]
        )


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
        """At most 2 x ``pool_size`` connections in all, ``quick_fetch``'s included."""
        self.url = url
        quick = min(QUICK_POOL_SIZE, pool_size)
        self.engine: AsyncEngine = create_async_engine(
            url, pool_size=pool_size, max_overflow=pool_size - quick, pool_pre_ping=True
        )
        event.listen(self.engine.sync_engine, "handle_error", _invalidate_lost_connections)
        trace_database(self.engine.sync_engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Opened on first use only: a process that never calls ``quick_fetch`` holds none. The
        # driver connects as the engine does (the same arguments, from the same URL).
        self._quick_size = min(QUICK_POOL_SIZE, pool_size)
        self._quick_pool: asyncpg.Pool | None = None
        self._quick_opening = asyncio.Lock()

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

    async def quick_fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        """The rows of ``query`` (PostgreSQL's ``$1`` parameters, ``args``), read by the driver
        alone, without a transaction: one statement, which sees what is committed when it runs.
        Its values are the driver's (``ColumnRows.of`` turns them into the ORM's). Nothing checks
        the connection before: when it turns out lost, every connection of the pool is replaced
        and the statement runs once more on a fresh one, as in ``read``; the driver's errors are
        raised as they are (``unavailable`` knows them). Traced as a client span like the engine's
        statements."""
        pool = self._quick_pool or await self._open_quick_pool()
        rows: list[asyncpg.Record]
        try:
            with traced_statement(self.url.database, query):
                rows = await pool.fetch(query, *args)
            return rows
        except Exception as exc:
            if not lost_connection(exc):
                raise
            await pool.expire_connections()
        with traced_statement(self.url.database, query):
            rows = await pool.fetch(query, *args)
        return rows

    async def _open_quick_pool(self) -> asyncpg.Pool:
        async with self._quick_opening:
            if self._quick_pool is None:
                _, options = self.engine.dialect.create_connect_args(self.engine.url)
                self._quick_pool = await asyncpg.create_pool(
                    min_size=0,
                    max_size=self._quick_size,
                    init=_json_codecs,
                    reset=_nothing_to_reset,
                    **options,
                )
            return self._quick_pool

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
        if self._quick_pool is not None:
            await self._quick_pool.close()
