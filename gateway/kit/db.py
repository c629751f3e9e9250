"""The database: URL handling, the async engine and the session factory.

The boundary (an endpoint, a CLI command, a job) owns the transaction: it opens one with
``async with db.transaction() as session`` and everything it calls works inside it without committing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

ASYNC_DRIVER = "postgresql+asyncpg"


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
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
