"""Rotating the encryption key while proxy traffic flows: not one request fails."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import URL

from gateway.app import create_app
from gateway.clients.store import create_client
from gateway.connections.store import save_grant
from gateway.keys import rotation
from gateway.kit.crypto import KeyRing, generate_key_entry
from gateway.kit.db import Database
from gateway.providers.token_response import TokenSet
from tests.fixtures.database import fresh_database
from tests.fixtures.servers import free_port, serving
from tests.fixtures.stack import Stack, gateway_settings

OLD = generate_key_entry("old")
NEW = generate_key_entry("new")
USERS = 40


@pytest.fixture(scope="module")
def live_url(server_url: URL) -> Iterator[URL]:
    with fresh_database(server_url, "gw_rotate") as url:
        yield url


@pytest.fixture
async def live_db(live_url: URL) -> AsyncIterator[Database]:
    database = Database(live_url, pool_size=4)
    yield database
    await database.dispose()


async def seed(db: Database, stack: Stack) -> tuple[list[str], str]:
    """Users connected with real sandbox tokens, sealed under the old key; and a proxy key."""
    store, options = stack.sandbox_store, stack.sandbox_app.state.sandbox.options
    old = KeyRing.parse(OLD)
    users = [f"rot-{n}-{uuid.uuid4().hex[:6]}" for n in range(USERS)]
    async with db.transaction() as session:
        for user_id in users:
            person = store.sign_in(f"{user_id}@example.com")
            code = store.issue_code(person, options.redirect_uris[0], ("openid",), None, None)
            issued = store.redeem_code(code, options.client_id, options.redirect_uris[0], None)
            tokens = TokenSet.from_response(
                {
                    "access_token": issued.access_token.token,
                    "refresh_token": issued.refresh_token.token,
                    "token_type": "Bearer",
                    "expires_in": 86400,
                },
                provider="contio",
            )
            await save_grant(
                session,
                old,
                user_id=user_id,
                provider="contio",
                subject=str(person.id),
                tokens=tokens,
                client_id=None,
                settings=stack.settings,
            )
        _client, key = await create_client(session, "traffic", ["proxy"], ["GET /**"])
    return users, key.key


async def test_rotating_while_traffic_flows_fails_no_request(
    stack: Stack, live_url: URL, live_db: Database
) -> None:
    users, key = await seed(live_db, stack)
    port = free_port()
    # Step 2 of the runbook is done: every replica has both keys, the new one active. No caches,
    # so every call reads and opens the sealed token while the rotation rewrites it.
    settings = gateway_settings(
        port,
        stack.sandbox.url,
        encryption_keys=SecretStr(f"{NEW},{OLD}"),
        encryption_active_key="new",
        proxy_cache_ttl_seconds=0,
    )
    statuses: Counter[int] = Counter()
    rotating = asyncio.Event()
    done = asyncio.Event()

    async def traffic(client: httpx.AsyncClient, offset: int) -> None:
        n = offset
        while not done.is_set() or statuses.total() < 4 * USERS:
            response = await client.get(
                f"/proxy/users/{users[n % USERS]}/profile",
                headers={"Authorization": f"Bearer {key}"},
            )
            statuses[response.status_code] += 1
            n += 1
            if statuses.total() >= USERS:
                rotating.set()

    with serving(create_app(settings, live_url), port=port) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            callers = [asyncio.create_task(traffic(client, i * 7)) for i in range(4)]
            await asyncio.wait_for(rotating.wait(), timeout=30)
            report = await rotation.rotate(live_db, KeyRing.parse(f"{NEW},{OLD}", "new"))
            done.set()
            await asyncio.gather(*callers)

    assert report.rotated == USERS and report.remaining == {}
    assert await rotation.usage(live_db) == {"new": 2 * USERS}
    assert statuses.total() >= 4 * USERS
    assert statuses == Counter({200: statuses.total()}), statuses
