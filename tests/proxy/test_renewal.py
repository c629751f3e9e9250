"""A busy user's cached token is read again in the background late in its life: a change nobody
was told of (a missed notification) is picked up without any call waiting for the database."""

from __future__ import annotations

import asyncio
from typing import cast

from pydantic import SecretStr
from sqlalchemy import select

from gateway.connections import store
from gateway.kit.crypto import KeyRing, generate_key_entry
from gateway.kit.db import Database
from gateway.models import Connection
from gateway.providers.tokens import TokenSet
from gateway.proxy.cache import LocalCache
from gateway.proxy.loader import Key
from gateway.proxy.tokens import TokenSource, UserToken
from gateway.settings import Settings
from gateway.tokens.refresh import Refresher
from tests.proxy.test_cache import Clock
from tests.proxy.test_loader import seeded_users

TTL = 30.0


async def test_a_token_is_renewed_in_the_background_before_it_expires(db: Database) -> None:
    keys = KeyRing.parse(generate_key_entry("k1"))
    [user] = await seeded_users(db, 1, keys)
    clock = Clock()
    cache: LocalCache[Key, UserToken] = LocalCache(TTL, clock=clock)
    cache.resume()
    # The refresher is not used: these tokens are hours from expiry.
    tokens = TokenSource(db, keys, cast(Refresher, None), Settings(), cache)
    try:
        first = await tokens.current(user, "contio")
        assert first.access_token == "a0"

        # Rotated behind the cache's back (as if the notification had been lost).
        async with db.transaction() as session:
            row = await session.scalar(select(Connection).where(Connection.user_id == user))
            assert row is not None
            grant = TokenSet(SecretStr("rotated"), None, 3600, None, None, "Bearer")
            store.seal_tokens(keys, row, grant)

        clock.now = TTL * 0.95  # past every entry's renewal moment, before its expiry
        served = await tokens.current(user, "contio")
        assert served.access_token == "a0"  # the call is served from the cache at once ...
        renewals = list(tokens._renewals)
        assert len(renewals) == 1  # ... and one background read started
        await asyncio.gather(*renewals)
        assert (await tokens.current(user, "contio")).access_token == "rotated"
    finally:
        await tokens.aclose()
