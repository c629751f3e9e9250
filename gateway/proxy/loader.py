"""The token cache's misses, read from the database: which connection a cache key names
(``Key``), and the reads themselves (``ConnectionLoader``).

Misses are read in batches: a replica that starts, or a burst of users not
seen for a while, misses the cache for many users at once, and a query each would queue them all
behind the database pool. A miss waits for the end of the loop's current turn, and then everything
missed in that turn is read with one query per provider (and per ``MAX_BATCH`` users) and one for the
connections addressed by id; each caller gets the connection its key names, or None. Callers asking
for the same key share one read, and a caller that gives up (its request cancelled) leaves the read
to the others. A read takes the 16 columns a proxied call needs (``ProxiedConnection``), not the
row's 40 made into an ORM instance.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from gateway.kit.db import ColumnRows, Database
from gateway.models import Connection, ConnectionStatus

MAX_BATCH = 500

# (user_id, provider, space, connection_id): the space is a confined client's id, or None for the
# shared one; the connection id is None for the user's default connection there.
Key = tuple[str, str, uuid.UUID | None, uuid.UUID | None]


@dataclass(frozen=True, slots=True)
class ProxiedConnection:
    """What a proxied call needs of its connection, read on a miss (``ConnectionLoader``): the
    columns of the same names, and nothing else (a record, not an ORM instance: a miss pays for
    16 values, not for the row's 40 and an instance's state)."""

    id: uuid.UUID
    user_id: str
    provider: str
    confined_to_client_id: uuid.UUID | None
    is_default: bool
    status: ConnectionStatus
    enabled: bool
    auth_mode: str
    access_token: str | None
    credential: str | None
    token_version: int
    expires_at: datetime | None
    token_lifetime_seconds: int | None
    unauthorized_refresh_at: datetime | None
    provider_settings: dict[str, str]
    last_refresh_error: dict[str, Any] | None


# The connection as the proxy reads it on a miss, or as a refresh returns it.
Proxied = ProxiedConnection | Connection


def default_key(connection: Proxied) -> Key:
    """The key a default connection is found under by its user."""
    return (connection.user_id, connection.provider, connection.confined_to_client_id, None)


def addressed_key(connection: Proxied) -> Key:
    """The key a connection is found under by its id."""
    return (
        connection.user_id,
        connection.provider,
        connection.confined_to_client_id,
        connection.id,
    )


def serves(key: Key, connection: Proxied) -> bool:
    """Whether ``connection`` is still the one ``key`` names (its default, or by its id)."""
    if key[3] is None:
        return connection.is_default and default_key(connection) == key
    return addressed_key(connection) == key


class ConnectionLoader:
    def __init__(self, db: Database) -> None:
        self._db = db
        # Read by the driver (``Database.quick_fetch``): a miss pays for one round trip, not for a
        # session, the ORM's loading or an execution context; built once.
        self._rows = ColumnRows(
            Connection,
            [field.name for field in fields(ProxiedConnection)],
            ProxiedConnection,
            db.engine.dialect,
        )
        self._defaults_of_users = self._rows.select(
            "provider = $1 AND user_id = ANY($2::text[]) AND is_default"
        )
        self._by_ids = self._rows.select("id = ANY($1::uuid[])")
        self._pending: dict[Key, asyncio.Future[ProxiedConnection | None]] = {}
        self._reads: set[asyncio.Task[None]] = set()

    async def load(self, key: Key) -> ProxiedConnection | None:
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

    async def _read(self, batch: dict[Key, asyncio.Future[ProxiedConnection | None]]) -> None:
        users: dict[str, set[str]] = defaultdict(set)
        addressed: set[uuid.UUID] = set()
        for user_id, provider, _space, connection_id in batch:
            if connection_id is None:
                users[provider].add(user_id)
            else:
                addressed.add(connection_id)

        async def read() -> dict[Key, ProxiedConnection]:
            found: dict[Key, ProxiedConnection] = {}
            for provider, wanted in users.items():
                user_ids = sorted(wanted)
                for start in range(0, len(user_ids), MAX_BATCH):
                    rows = await self._db.quick_fetch(
                        self._defaults_of_users, provider, user_ids[start : start + MAX_BATCH]
                    )
                    found.update((default_key(row), row) for row in map(self._rows.of, rows))
            ids = sorted(addressed)
            for start in range(0, len(ids), MAX_BATCH):
                rows = await self._db.quick_fetch(self._by_ids, ids[start : start + MAX_BATCH])
                found.update((addressed_key(row), row) for row in map(self._rows.of, rows))
            return found

        try:
            found = await read()
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


def _retrieve(future: asyncio.Future[ProxiedConnection | None]) -> None:
    """Mark a failed read's error as seen: its callers may all have gone (each got it, if not)."""
    if not future.cancelled():
        future.exception()
