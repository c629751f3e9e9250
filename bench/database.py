"""A database of the benchmark's own: created on a named PostgreSQL server, or on an embedded one
when none is named (a fresh machine), migrated like production, dropped at the end."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL

from gateway.kit.db import async_url, sync_url
from gateway.kit.embedded import EmbeddedPostgres
from gateway.kit.migrations import upgrade

# The first one set names the server; none set: an embedded PostgreSQL.
SERVER_VARIABLES = ("BENCH_DATABASE_URL", "GATEWAY_TEST_DATABASE_URL", "GATEWAY_DATABASE_URL")
# Kept between runs (like `gateway dev`'s), in the checkout's ignored data directory.
EMBEDDED_DIR = Path(__file__).resolve().parents[1] / ".gateway" / "bench"


def server() -> tuple[URL, str]:
    """The server's URL and a description for the results."""
    for variable in SERVER_VARIABLES:
        configured = os.environ.get(variable)
        if configured:
            url = async_url(configured)
            return url, f"PostgreSQL at {url.host or 'a socket'} (from {variable})"
    return async_url(EmbeddedPostgres(EMBEDDED_DIR).start()), "embedded PostgreSQL (no URL set)"


async def _admin(url: URL, statement: str) -> None:
    connection = await asyncpg.connect(sync_url(url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def bench_database(server_url: URL) -> Iterator[URL]:
    name = f"gw_bench_{uuid.uuid4().hex[:10]}"
    admin = server_url.set(database="postgres")
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    url = server_url.set(database=name)
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
