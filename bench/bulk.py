"""Connections written by the million: rows built here, each with its own id and its tokens sealed
for that id (the key ring's AES-GCM, associated data naming the row, as ``tokens.grant`` seals them),
then sent with PostgreSQL's binary ``COPY`` a chunk at a time. The rows are what ``seed.connections``
writes through the ORM, without the ORM's cost per row.

Their expiries are spread evenly over an hour from ``LIFETIME`` seconds on (tokens issued around the
clock), and their next refresh ``MARGIN`` seconds before, so none comes due while the benchmark runs
unless it makes it due.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy.engine import URL

from bench.seed import PROVIDER, USER_PREFIX
from gateway.kit.crypto import Binding, KeyRing
from gateway.kit.db import sync_url
from gateway.tokens.grant import TABLE

COLUMNS = (
    "id",
    "user_id",
    "provider",
    "subject",
    "status",
    "token_version",
    "expires_at",
    "token_lifetime_seconds",
    "next_refresh_at",
    "created_by_client_id",
    "connected_at",
    "consecutive_failures",
    "access_token",
    "refresh_token",
)
CHUNK = 20_000
LIFETIME = 3600
SPREAD = 3600  # expiries spread over this many seconds
MARGIN = 600


def rows(
    keys: KeyRing,
    tokens: Sequence[tuple[str, str]],
    *,
    first: int,
    subject: str,
    now: datetime,
    client_id: uuid.UUID | None,
) -> list[tuple[Any, ...]]:
    """One row (``COLUMNS``) per token pair, for users ``bench-user-<first>`` onwards."""
    built = []
    for number, (access, refresh) in enumerate(tokens, first):
        row_id = uuid.uuid4()
        expires = now + timedelta(seconds=LIFETIME + number % SPREAD)
        built.append(
            (
                row_id,
                f"{USER_PREFIX}{number}",
                PROVIDER,
                subject,
                "active",
                1,
                expires,
                LIFETIME,
                expires - timedelta(seconds=MARGIN),
                client_id,
                now,
                0,
                keys.seal(access, Binding(TABLE, "access_token", str(row_id))),
                keys.seal(refresh, Binding(TABLE, "refresh_token", str(row_id))),
            )
        )
    return built


def chunks(count: int, size: int = CHUNK) -> Iterator[tuple[int, int]]:
    """``(first, how many)`` for users 1 to ``count``, ``size`` at a time."""
    for start in range(1, count + 1, size):
        yield start, min(size, count + 1 - start)


async def copy_connections(
    url: URL,
    keys: KeyRing,
    tokens: Sequence[tuple[str, str]],
    *,
    subject: str,
    now: datetime,
    client_id: uuid.UUID | None = None,
) -> None:
    """One connection per token pair, for users ``bench-user-1`` onwards, a chunk per ``COPY``."""
    connection = await asyncpg.connect(sync_url(url))
    try:
        for first, size in chunks(len(tokens)):
            built = rows(
                keys,
                tokens[first - 1 : first - 1 + size],
                first=first,
                subject=subject,
                now=now,
                client_id=client_id,
            )
            await connection.copy_records_to_table("connections", records=built, columns=COLUMNS)
    finally:
        await connection.close()
