"""The proxy's caches across gateways: what one gateway (or any writer) changes, every other
gateway applies within a second, through PostgreSQL's NOTIFY; and while it cannot hear of changes,
a gateway serves nothing from its caches.

The stack's gateway (provider: the Contio sandbox) and the echo gateway (provider: the loopback
echo) are two gateway instances with caches and change feeds of their own, sharing the database.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text, update

from gateway.kit.db import Database
from gateway.kit.feed import APPLICATION_NAME
from gateway.models import Connection, ConnectionStatus
from gateway.tokens import grant
from tests.e2e.flows import connect_new_user, load_connection
from tests.fixtures.stack import new_client
from tests.proxy.conftest import EchoGateway, bearer, eventually, seed_user
from tests.proxy.upstream import EchoUpstream

WITHIN = 1.0  # the promise: every replica applies a change within a second


@pytest.fixture
async def admin(http: httpx.AsyncClient, db: Database) -> httpx.AsyncClient:
    """The stack gateway's admin API."""
    http.headers["Authorization"] = f"Bearer {await new_client(db, ['admin'])}"
    return http


async def token_seen(gw: httpx.AsyncClient, key: str, user_id: str) -> str:
    response = await gw.get(f"/proxy/users/{user_id}/echo/who", headers=bearer(key))
    assert response.status_code == 200, response.text
    return str(dict(response.json()["headers"])["authorization"])


async def test_a_connection_revoked_through_one_gateway_is_refused_by_another(
    http: httpx.AsyncClient,
    service_key: str,
    admin: httpx.AsyncClient,
    gw: httpx.AsyncClient,
    key: str,
    db: Database,
) -> None:
    user_id = await connect_new_user(http, service_key)
    connection = await load_connection(db, user_id)
    await token_seen(gw, key, user_id)  # the echo gateway has it cached now

    revoked = await admin.delete(f"/v1/connections/{connection.id}")
    assert revoked.status_code == 200, revoked.text

    async def refused() -> bool:
        response = await gw.get(f"/proxy/users/{user_id}/echo/who", headers=bearer(key))
        return response.status_code == 410

    await eventually(refused, within=WITHIN, what="the other gateway refuses the revoked user")


async def test_a_token_refreshed_through_one_gateway_is_used_by_another(
    http: httpx.AsyncClient,
    service_key: str,
    admin: httpx.AsyncClient,
    gw: httpx.AsyncClient,
    key: str,
    db: Database,
    echo_gateway: EchoGateway,
) -> None:
    user_id = await connect_new_user(http, service_key)
    connection = await load_connection(db, user_id)
    old = await token_seen(gw, key, user_id)

    refreshed = await admin.post(f"/v1/connections/{connection.id}/refresh")
    assert refreshed.status_code == 200, refreshed.text
    new = f"Bearer {grant.access_token(echo_gateway.keys, await load_connection(db, user_id))}"
    assert new != old

    async def picked_up() -> bool:
        return await token_seen(gw, key, user_id) == new

    await eventually(picked_up, within=WITHIN, what="the other gateway sends the new token")


async def test_a_cached_token_is_used_without_reading_the_database_until_it_changes(
    gw: httpx.AsyncClient, key: str, db: Database, echo_gateway: EchoGateway
) -> None:
    user_id, token = await seed_user(db, echo_gateway)
    assert await token_seen(gw, key, user_id) == f"Bearer {token}"
    # Rewrite the ciphertext behind the cache's back: nothing a real writer does without
    # bumping the version, so nothing tells the gateways.
    connection = await load_connection(db, user_id)
    sealed = echo_gateway.keys.seal("tok-rewritten", grant._binding(connection.id, "access_token"))
    async with db.transaction() as session:
        await session.execute(
            update(Connection).where(Connection.id == connection.id).values(access_token=sealed)
        )
    assert await token_seen(gw, key, user_id) == f"Bearer {token}", "served from the cache"

    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == connection.id)
            .values(token_version=Connection.token_version + 1)
        )

    async def picked_up() -> bool:
        return await token_seen(gw, key, user_id) == "Bearer tok-rewritten"

    await eventually(picked_up, within=WITHIN, what="a version bump invalidates the cache")


@pytest.mark.parametrize(
    ("status", "expected"), [(ConnectionStatus.NEEDS_REAUTH, 409), (ConnectionStatus.REVOKED, 410)]
)
async def test_any_writer_invalidates_the_cache(
    gw: httpx.AsyncClient,
    key: str,
    db: Database,
    echo_gateway: EchoGateway,
    status: ConnectionStatus,
    expected: int,
) -> None:
    user_id, _ = await seed_user(db, echo_gateway)
    await token_seen(gw, key, user_id)
    async with db.transaction() as session:
        await session.execute(
            update(Connection).where(Connection.user_id == user_id).values(status=status)
        )

    async def applied() -> bool:
        response = await gw.get(f"/proxy/users/{user_id}/echo/who", headers=bearer(key))
        return response.status_code == expected

    await eventually(applied, within=WITHIN, what=f"the gateway answers {expected}")


async def feeds(db: Database) -> int:
    async with db.transaction() as session:
        count = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = :name AND datname = current_database()"
            ),
            {"name": APPLICATION_NAME},
        )
    return int(count or 0)


async def test_a_gateway_that_lost_its_change_feed_misses_no_change(
    gw: httpx.AsyncClient,
    key: str,
    db: Database,
    echo_gateway: EchoGateway,
    upstream: EchoUpstream,
) -> None:
    user_id, _ = await seed_user(db, echo_gateway)
    await token_seen(gw, key, user_id)
    before = await feeds(db)
    assert before >= 2, "both gateways listen"
    async with db.transaction() as session:
        await session.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :name AND datname = current_database()"
            ),
            {"name": APPLICATION_NAME},
        )
        # Revoked while no gateway listens: no one hears of it.
        await session.execute(
            update(Connection)
            .where(Connection.user_id == user_id)
            .values(status=ConnectionStatus.REVOKED)
        )

    async def refused() -> bool:
        response = await gw.get(f"/proxy/users/{user_id}/echo/who", headers=bearer(key))
        return response.status_code == 410

    await eventually(refused, within=WITHIN, what="the change made while deaf is applied")

    async def listening_again() -> bool:
        return await feeds(db) >= before

    await eventually(listening_again, within=5.0, what="the feeds reconnect")
