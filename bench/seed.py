"""Service clients and connections written straight into the database, with sealed tokens, as the
connect flow would have left them (thousands of browser flows would measure nothing useful)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from pydantic import SecretStr
from sqlalchemy.engine import URL

from gateway.clients.store import create_client
from gateway.kit.clock import utcnow
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import Connection, ConnectionStatus
from gateway.providers.token_response import TokenSet
from gateway.tokens import grant

USER_PREFIX = "bench-user-"
PROVIDER = "contio"
BATCH = 2000


async def service_key(db: Database, name: str = "bench") -> tuple[uuid.UUID, str]:
    """A client allowed to GET anything through the proxy; its id and key."""
    async with db.transaction() as session:
        client, issued = await create_client(session, name, ["proxy"], ["GET /**"])
        await session.flush()
        return client.id, issued.key


async def connections(
    db: Database,
    keys: KeyRing,
    *,
    tokens: Sequence[tuple[str, str]],
    subject: str,
    lifetime_seconds: int,
    due: bool,
    client_id: uuid.UUID | None = None,
    user_prefix: str = USER_PREFIX,
) -> None:
    """One active connection per token pair, for users ``<user_prefix>1`` onwards.

    ``due``: the refresher should take them all now (their tokens still valid, expiring one
    second apart so "nearest expiry first" has an order to follow); else not for hours.
    """
    now = utcnow()
    for start in range(0, len(tokens), BATCH):
        rows = []
        for number, (access, refresh) in enumerate(tokens[start : start + BATCH], start + 1):
            expires = now + timedelta(seconds=lifetime_seconds + (number if due else 0))
            row = Connection(
                id=uuid.uuid4(),
                user_id=f"{user_prefix}{number}",
                provider=PROVIDER,
                subject=subject,
                status=ConnectionStatus.ACTIVE,
                token_version=1,
                expires_at=expires,
                token_lifetime_seconds=lifetime_seconds,
                next_refresh_at=now - timedelta(seconds=1) if due else expires,
                created_by_client_id=client_id,
                connected_at=now,
                consecutive_failures=0,
            )
            issued = TokenSet(
                SecretStr(access), SecretStr(refresh), lifetime_seconds, None, None, "Bearer"
            )
            grant.seal_tokens(keys, row, issued)
            rows.append(row)
        async with db.transaction() as session:
            session.add_all(rows)


async def proxy_users(url: URL, encryption_key: str, count: int, *, client: str = "bench") -> str:
    """The key of a client named ``client``, and ``count`` connections it owns, whose tokens the
    upstream ignores (``bench-user-1`` to ``bench-user-<count>``)."""
    db = Database(url, pool_size=2)
    try:
        client_id, key = await service_key(db, client)
        await connections(
            db,
            KeyRing.parse(encryption_key),
            tokens=[(f"bench-access-{n}", f"bench-refresh-{n}") for n in range(1, count + 1)],
            subject="bench-subject",
            lifetime_seconds=86400,
            due=False,
            client_id=client_id,
        )
    finally:
        await db.dispose()
    return key
