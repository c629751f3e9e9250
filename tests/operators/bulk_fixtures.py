"""Many connections at once for the bulk revocation tests: real grants from the sandbox's bulk
control route, sealed into connection rows owned by the given service clients in turn (a confined
client's connections in its own space, an unconfined one's in the shared space), each its own
provider account; and what the test needs to watch the gateway and the provider while it works."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from gateway.connections.upstream_revocation import UpstreamRevoker
from gateway.kit.clock import utcnow
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import Connection, ConnectionStatus, PendingRevocation
from gateway.providers.registry import build_registry
from gateway.providers.token_response import TokenSet
from gateway.settings import CONTIO_DEFAULT_SCOPES, Settings
from gateway.tokens import grant
from tests.hostile.owner_fixtures import Client

GRANTS_PER_CALL = 1000


@dataclass(frozen=True)
class Seeded:
    id: uuid.UUID
    user_id: str
    owner: Client
    access_token: str
    refresh_token: str


async def grants(sandbox_url: str, count: int) -> list[tuple[str, str]]:
    """``count`` fresh (access, refresh) pairs from the sandbox."""
    pairs: list[tuple[str, str]] = []
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=60) as sandbox:
        while len(pairs) < count:
            answer = await sandbox.post(
                "/_sandbox/grants",
                json={
                    "email": f"bulk-{uuid.uuid4().hex[:8]}@example.com",
                    "count": min(GRANTS_PER_CALL, count - len(pairs)),
                    "scope": CONTIO_DEFAULT_SCOPES,
                },
            )
            answer.raise_for_status()
            pairs += [(g["access_token"], g["refresh_token"]) for g in answer.json()["grants"]]
    return pairs


async def seed(
    db: Database,
    keys: KeyRing,
    sandbox_url: str,
    count: int,
    owners: Sequence[tuple[Client, bool]],
    labels: dict[str, str],
) -> list[Seeded]:
    """``count`` active connections to ``contio`` holding live sandbox grants, owned by
    ``owners`` in turn (``(client, confined)``), oldest first."""
    now = utcnow()
    seeded = []
    async with db.transaction() as session:
        for n, (access, refresh) in enumerate(await grants(sandbox_url, count)):
            owner, confined = owners[n % len(owners)]
            connection = Connection(
                id=uuid.uuid4(),
                user_id=f"bulk-{n}-{uuid.uuid4().hex[:8]}",
                provider="contio",
                subject=f"bulk-{uuid.uuid4().hex}",
                status=ConnectionStatus.ACTIVE,
                token_version=1,
                connected_at=now,
                created_at=now + timedelta(microseconds=n),
                expires_at=now + timedelta(hours=1),
                token_lifetime_seconds=3600,
                next_refresh_at=now + timedelta(minutes=45),
                scopes=CONTIO_DEFAULT_SCOPES.split(),
                created_by_client_id=owner.id,
                owner_client_id=owner.id,
                confined_to_client_id=owner.id if confined else None,
                labels=labels,
            )
            tokens = TokenSet(
                access_token=SecretStr(access),
                refresh_token=SecretStr(refresh),
                expires_in=3600,
                scopes=None,
                id_token=None,
                token_type="Bearer",
            )
            grant.seal_tokens(keys, connection, tokens)
            session.add(connection)
            seeded.append(Seeded(connection.id, connection.user_id, owner, access, refresh))
    return seeded


class StatementCount:
    """Statements and transactions every SQLAlchemy engine of this process runs while counting,
    and the rows its SELECTs return (the stack's gateway serves from a thread of this process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.statements = 0
        self.transactions = 0
        self.rows_read = 0

    def _statement(self, *_: object) -> None:
        with self._lock:
            self.statements += 1

    def _executed(self, _conn: object, cursor: Any, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and cursor.rowcount > 0:
            with self._lock:
                self.rows_read += cursor.rowcount

    def _transaction(self, *_: object) -> None:
        with self._lock:
            self.transactions += 1

    @contextmanager
    def counting(self) -> Iterator[StatementCount]:
        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Engine, "after_cursor_execute", self._executed)
        event.listen(Engine, "begin", self._transaction)
        try:
            yield self
        finally:
            event.remove(Engine, "before_cursor_execute", self._statement)
            event.remove(Engine, "after_cursor_execute", self._executed)
            event.remove(Engine, "begin", self._transaction)


def upstream_revoker(
    db: Database, keys: KeyRing, settings: Settings, http: httpx.AsyncClient
) -> UpstreamRevoker:
    """What the worker runs, driven by the test."""
    return UpstreamRevoker(db, keys, build_registry(settings, http), settings, http)


async def pending_count(db: Database, ids: Sequence[uuid.UUID]) -> int:
    async with db.transaction() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(PendingRevocation)
            .where(PendingRevocation.connection_id.in_(ids))
        )
    return int(found or 0)


async def refused(http: httpx.AsyncClient, one: Seeded, *, within: float = 5) -> httpx.Response:
    """The proxy's answer for ``one``'s user once it is no longer 200, polled until ``within``
    seconds have passed (every replica drops a revoked connection from its caches within moments
    of the commit, when the invalidation arrives)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        answer = await http.get(
            f"/proxy/users/{one.user_id}/meetings",
            headers={"Authorization": f"Bearer {one.owner.key}"},
        )
        if answer.status_code != 200 or loop.time() >= deadline:
            return answer
        await asyncio.sleep(0.05)


async def drain(
    revoker: UpstreamRevoker, done: Callable[[], Awaitable[bool]], *, within: float = 120
) -> bool:
    """Run the background retry's rounds (every row due, whoever claimed it) until ``done``, or
    until ``within`` seconds have passed; whether it got there."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        await revoker.retry_due(now=utcnow() + timedelta(days=1), batch_size=200)
        if await done():
            return True
    return False
