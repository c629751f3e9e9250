"""Alembic environment: async engine on asyncpg, URL from the caller or the gateway's settings.

Migrations run under a PostgreSQL advisory lock (``MIGRATION_LOCK``), so any number of processes
may run ``gateway migrate`` at once (every API pod's init container does): one migrates, the others
wait for it and then find the schema at head.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.kit.db import async_url
from gateway.kit.migrations import MIGRATION_LOCK
from gateway.models import Base
from gateway.settings import load_settings

config = context.config


def database_url() -> URL:
    url = config.attributes.get("url")
    if isinstance(url, URL):
        return url
    settings = load_settings()
    if settings.database_url is None:
        raise SystemExit("set GATEWAY_DATABASE_URL to run alembic directly")
    return async_url(settings.database_url.get_secret_value())


def run_with(connection: Connection) -> None:
    # A session lock, taken and committed before Alembic reads the current revision, held until
    # the migrations are committed.
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
    connection.commit()
    try:
        context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
        connection.commit()


async def run_async() -> None:
    engine = create_async_engine(database_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(run_with)
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
asyncio.run(run_async())
