"""A busy user's cached token is read again in the background late in its life: a change nobody
was told of (a missed notification) is picked up without any call waiting for the database."""

from __future__ import annotations

from typing import cast

import httpx
from pydantic import SecretStr
from sqlalchemy import select

from gateway.kit.crypto import KeyRing, generate_key_entry
from gateway.kit.db import Database
from gateway.models import Connection
from gateway.providers.registry import ProviderRegistry, build_registry
from gateway.providers.token_response import TokenSet
from gateway.proxy.cache import LocalCache
from gateway.proxy.loader import Key
from gateway.proxy.token_cache import TokenSource, UserToken
from gateway.settings import Settings
from gateway.tokens import grant
from gateway.tokens.refresher import Refresher
from tests.fixtures.stack import gateway_settings
from tests.proxy.test_cache import Clock
from tests.proxy.test_token_cache_loader import counted_statements, seeded_users

TTL = 30.0
BEARER_A0 = ("Authorization", "Bearer a0")


def contio() -> ProviderRegistry:
    """Contio alone, as the stack configures it (never called: the tokens are far from expiry)."""
    settings = gateway_settings(0, "http://127.0.0.1:9")
    return build_registry(settings, httpx.AsyncClient())


async def test_a_token_is_renewed_in_the_background_before_it_expires(db: Database) -> None:
    keys = KeyRing.parse(generate_key_entry("k1"))
    [user] = await seeded_users(db, 1, keys)
    clock = Clock()
    cache: LocalCache[Key, UserToken] = LocalCache(TTL, clock=clock, renews=True)
    cache.resume()
    # The refresher is not used: these tokens are hours from expiry.
    tokens = TokenSource(db, keys, cast(Refresher, None), contio(), Settings(), cache)
    try:
        first = await tokens.load((user, "contio", None, None))
        assert first.injection.header == BEARER_A0

        # Rotated behind the cache's back (as if the notification had been lost).
        async with db.transaction() as session:
            row = await session.scalar(select(Connection).where(Connection.user_id == user))
            assert row is not None
            issued = TokenSet(SecretStr("rotated"), None, 3600, None, None, "Bearer")
            grant.seal_tokens(keys, row, issued)

        clock.now = TTL * 0.95  # past every entry's renewal moment, before its expiry
        served = tokens.cached((user, "contio", None, None))
        assert served is not None
        assert served.injection.header == BEARER_A0  # the call is served from the cache at once ...
        with counted_statements(db) as statements:
            await tokens.renew_due()  # ... and the token is read again (the timer's work)
        assert len(statements) == 1
        renewed = tokens.cached((user, "contio", None, None))
        assert renewed is not None and renewed.injection.header == (
            "Authorization",
            "Bearer rotated",
        )
    finally:
        await tokens.aclose()


async def test_tokens_due_together_are_read_again_with_one_query(db: Database) -> None:
    keys = KeyRing.parse(generate_key_entry("k1"))
    users = await seeded_users(db, 30, keys)
    clock = Clock()
    cache: LocalCache[Key, UserToken] = LocalCache(TTL, clock=clock, renews=True)
    cache.resume()
    tokens = TokenSource(db, keys, cast(Refresher, None), contio(), Settings(), cache)
    try:
        for user in users:
            await tokens.load((user, "contio", None, None))
        clock.now = TTL * 0.95
        for user in users:
            assert tokens.cached((user, "contio", None, None)) is not None
        with counted_statements(db) as statements:
            await tokens.renew_due()
        assert len(statements) == 1
        clock.now = TTL * 1.5  # past the first entries' life: the renewed ones serve on
        assert all(tokens.cached((user, "contio", None, None)) is not None for user in users)
    finally:
        await tokens.aclose()
