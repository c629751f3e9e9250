"""Two flows storing the first grant for one user at the same moment."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import URL

from gateway.connections import store
from gateway.connections.errors import ConnectionConflict
from gateway.kit.crypto import KeyRing, generate_key_entry
from gateway.kit.db import Database, sync_url
from gateway.providers.token_response import TokenSet
from gateway.tokens import grant
from tests.fixtures.stack import gateway_settings

SETTINGS = gateway_settings(1, "http://127.0.0.1:1")
KEYS = KeyRing.parse(generate_key_entry("race"))


def tokens(name: str) -> TokenSet:
    return TokenSet(
        access_token=SecretStr(f"access-{name}"),
        refresh_token=SecretStr(f"refresh-{name}"),
        expires_in=3600,
        scopes=None,
        id_token=None,
        token_type="Bearer",
    )


async def waiting_on_a_lock(url: URL, deadline: float) -> None:
    """Return once some backend of the database waits on a lock (the second insert)."""
    conn = await asyncpg.connect(sync_url(url))
    try:
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            waiting = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if waiting:
                return
            await asyncio.sleep(0.01)
        pytest.fail("the second insert never waited on the first")
    finally:
        await conn.close()


async def test_the_second_of_two_simultaneous_first_connects_is_a_conflict_not_a_500(
    database_url: URL,
) -> None:
    db = Database(database_url, pool_size=2)
    user_id = f"race-{uuid.uuid4().hex[:8]}"

    async def save(session_tokens: TokenSet) -> None:
        async with db.transaction() as session:
            await store.save_grant(
                session,
                KEYS,
                user_id=user_id,
                provider="contio",
                subject="sub-1",
                tokens=session_tokens,
                client_id=None,
                settings=SETTINGS,
            )

    try:
        async with db.transaction() as first:
            await store.save_grant(
                first,
                KEYS,
                user_id=user_id,
                provider="contio",
                subject="sub-1",
                tokens=tokens("first"),
                client_id=None,
                settings=SETTINGS,
            )
            second = asyncio.create_task(save(tokens("second")))
            await waiting_on_a_lock(database_url, asyncio.get_running_loop().time() + 10)
        with pytest.raises(ConnectionConflict):
            await second
        async with db.transaction() as session:
            stored = await store.find(session, user_id, "contio", None)
            assert stored is not None
            assert grant.access_token(KEYS, stored) == "access-first"
    finally:
        await db.dispose()
