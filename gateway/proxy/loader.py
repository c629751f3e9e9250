"""Reading users' connections for the token cache in batches: the misses of one event-loop turn
share one query.

A replica that starts, or a burst of users not seen for a while, misses the cache for many users at
once; a query each would queue them all behind the database pool. Here a miss waits for the end of
the loop's current turn, and then everything missed in that turn is read with one query per
provider (and per ``MAX_BATCH`` users); each caller gets its user's connection in the space it
asked for, or None. Callers asking for the same key share one read, and a caller that gives up (its
request cancelled) leaves the read to the others.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kit.db import Database
from gateway.models import Connection

MAX_BATCH = 500
# (user_id, provider, space): the space is a confined client's id, or None for the shared one.
Key = tuple[str, str, uuid.UUID | None]


def key_of(connection: Connection) -> Key:
    return (connection.user_id, connection.provider, connection.confined_to_client_id)


class ConnectionLoader:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._pending: dict[Key, asyncio.Future[Connection | None]] = {}
        self._reads: set[asyncio.Task[None]] = set()

    async def load(self, key: Key) -> Connection | None:
        future = self._pending.get(key)
        if future is None:
            loop = asyncio.get_running_loop()
            if not self._pending:
                loop.call_soon(self._dispatch)
            future = loop.create_future()
            future.add_done_callback(_retrieve)
            self._pending[key] = future
        return await asyncio.shield(future)

    def _dispatch(self) -> None:
        batch, self._pending = self._pending, {}
        read = asyncio.create_task(self._read(batch))
        self._reads.add(read)
        read.add_done_callback(self._reads.discard)

    async def _read(self, batch: dict[Key, asyncio.Future[Connection | None]]) -> None:
        users: dict[str, set[str]] = defaultdict(set)
        for user_id, provider, _space in batch:
            users[provider].add(user_id)

        async def read(session: AsyncSession) -> dict[Key, Connection]:
            found: dict[Key, Connection] = {}
            for provider, wanted in users.items():
                user_ids = sorted(wanted)
                for start in range(0, len(user_ids), MAX_BATCH):
                    rows = await session.scalars(
                        select(Connection).where(
                            Connection.provider == provider,
                            Connection.user_id.in_(user_ids[start : start + MAX_BATCH]),
                        )
                    )
                    found.update((key_of(row), row) for row in rows)
            return found

        try:
            found = await self._db.read(read)
        except Exception as exc:
            for future in batch.values():
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:  # cancelled (shutting down): so are its callers' reads
            for future in batch.values():
                future.cancel()
            raise
        for key, future in batch.items():
            if not future.done():
                future.set_result(found.get(key))

    async def aclose(self) -> None:
        for read in list(self._reads):
            read.cancel()
        await asyncio.gather(*self._reads, return_exceptions=True)


def _retrieve(future: asyncio.Future[Connection | None]) -> None:
    """Mark a failed read's error as seen: its callers may all have gone (each got it, if not)."""
    if not future.cancelled():
        future.exception()
