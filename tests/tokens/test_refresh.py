"""Refreshing tokens: due refreshes, single flight across callers and processes, classified failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.metrics import Metrics
from gateway.models import Connection, ConnectionStatus, OutboxEvent, ProviderBreaker
from gateway.providers.errors import ClientRejected, ProviderUnavailable
from gateway.providers.registry import build_registry
from gateway.providers.spender import OPERATOR
from gateway.settings import Settings
from gateway.tokens.errors import ReauthRequired
from gateway.tokens.grant import access_token
from gateway.tokens.loop import refresh_due
from gateway.tokens.refresher import Refresher
from tests.e2e.flows import connect_new_user, proxy_get
from tests.e2e.flows import load_connection as load
from tests.fixtures.stack import Stack


@pytest.fixture
async def provider_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def make_refresher(db: Database, settings: Settings, http: httpx.AsyncClient) -> Refresher:
    assert settings.encryption_keys is not None
    keys = KeyRing.parse(settings.encryption_keys.get_secret_value())
    return Refresher(db, keys, build_registry(settings, http), settings)


async def connected(http: httpx.AsyncClient, key: str, db: Database) -> Connection:
    return await load(db, await connect_new_user(http, key))


async def events_for(db: Database, connection: Connection) -> list[str]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(
                OutboxEvent.data["connection_id"].astext == str(connection.id)
            )
        )
        return [row.type for row in rows]


async def test_connecting_schedules_the_first_refresh_at_the_fraction(
    http: httpx.AsyncClient, service_key: str, db: Database, stack: Stack
) -> None:
    connection = await connected(http, service_key, db)
    assert connection.next_refresh_at is not None and connection.expires_at is not None
    lifetime = (connection.expires_at - connection.connected_at).total_seconds()
    until_refresh = (connection.next_refresh_at - connection.connected_at).total_seconds()
    fraction = stack.settings.refresh_at_fraction
    jitter = stack.settings.refresh_jitter_fraction
    assert lifetime * (fraction - jitter) <= until_refresh <= lifetime * fraction
    assert "connection.created" in await events_for(db, connection)


async def test_refresher_cycle_refreshes_due_connections_only(
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    stack: Stack,
    provider_http: httpx.AsyncClient,
) -> None:
    due, idle = await connected(http, service_key, db), await connected(http, service_key, db)
    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == due.id)
            .values(next_refresh_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    refresher = make_refresher(db, stack.settings, provider_http)
    await refresh_due(refresher, batch_size=100)
    after_due, after_idle = await load(db, due.user_id), await load(db, idle.user_id)
    assert after_due.token_version == due.token_version + 1
    assert after_due.last_refreshed_at is not None
    assert after_due.next_refresh_at is not None
    assert after_due.next_refresh_at > datetime.now(UTC)
    assert after_idle.token_version == idle.token_version
    keys = KeyRing.parse(stack.settings.encryption_keys.get_secret_value())  # type: ignore[union-attr]
    assert access_token(keys, after_due) != access_token(keys, due)


async def test_concurrent_callers_in_one_process_share_one_refresh(
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    stack: Stack,
    provider_http: httpx.AsyncClient,
) -> None:
    connection = await connected(http, service_key, db)
    refresher = make_refresher(db, stack.settings, provider_http)
    results = await asyncio.gather(
        *(
            refresher.refresh(
                connection.id, seen_version=connection.token_version, spender=OPERATOR
            )
            for _ in range(10)
        )
    )
    # One write of new tokens, whose result every caller got.
    assert {r.connection.token_version for r in results} == {connection.token_version + 1}
    assert (await load(db, connection.user_id)).token_version == connection.token_version + 1
    # A second refresh with the rotated-away token would have tripped reuse detection.
    proxied = await proxy_get(http, service_key, connection.user_id, "/profile")
    assert proxied.status_code == 200


async def test_two_processes_refresh_once_and_both_use_the_result(
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    stack: Stack,
    provider_http: httpx.AsyncClient,
) -> None:
    connection = await connected(http, service_key, db)
    first = make_refresher(db, stack.settings, provider_http)
    second = make_refresher(db, stack.settings, provider_http)
    results = await asyncio.gather(
        *(
            refresher.refresh(
                connection.id, seen_version=connection.token_version, spender=OPERATOR
            )
            for refresher in (first, second, first, second)
        )
    )
    assert {r.connection.token_version for r in results} == {connection.token_version + 1}
    after = await load(db, connection.user_id)
    assert after.token_version == connection.token_version + 1
    assert after.lease_owner is None
    proxied = await proxy_get(http, service_key, connection.user_id, "/profile")
    assert proxied.status_code == 200, "a second refresh would have tripped reuse detection"


async def test_rejected_grant_makes_the_connection_need_reauth(
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    stack: Stack,
    provider_http: httpx.AsyncClient,
) -> None:
    connection = await connected(http, service_key, db)
    stack.sandbox_store.revoke_user(f"{connection.user_id}@example.com")
    refresher = make_refresher(db, stack.settings, provider_http)
    with pytest.raises(ReauthRequired):
        await refresher.refresh(connection.id, spender=OPERATOR)
    after = await load(db, connection.user_id)
    assert after.status == ConnectionStatus.NEEDS_REAUTH
    assert after.next_refresh_at is None
    assert after.last_refresh_error is not None
    assert after.last_refresh_error["code"] == "grant_rejected"
    assert "connection.needs_reauth" in await events_for(db, connection)
    proxied = await proxy_get(http, service_key, connection.user_id, "/meetings")
    assert proxied.status_code == 409


async def test_rejected_client_opens_the_breaker_and_touches_no_connection(
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    stack: Stack,
    provider_http: httpx.AsyncClient,
) -> None:
    connection = await connected(http, service_key, db)
    wrong = stack.settings.model_copy(update={"contio_client_secret": SecretStr("wrong-secret")})
    refresher = make_refresher(db, wrong, provider_http)
    try:
        with pytest.raises(ClientRejected):
            await refresher.refresh(connection.id, spender=OPERATOR)
        after = await load(db, connection.user_id)
        assert after.status == ConnectionStatus.ACTIVE
        assert after.consecutive_failures == 0
        assert after.token_version == connection.token_version
        with pytest.raises(ProviderUnavailable):  # the breaker answers; the provider is not asked
            await refresher.refresh(connection.id, spender=OPERATOR)
    finally:
        async with db.transaction() as session:
            await session.execute(
                update(ProviderBreaker)
                .where(ProviderBreaker.provider == "contio")
                .values(open_until=None, consecutive_failures=0)
            )


async def test_proxy_refreshes_a_token_about_to_expire(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)
    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == connection.id)
            .values(expires_at=datetime.now(UTC) + timedelta(seconds=10))
        )
    response = await proxy_get(http, service_key, connection.user_id, "/profile")
    assert response.status_code == 200
    assert (await load(db, connection.user_id)).token_version == connection.token_version + 1


async def test_proxy_refreshes_once_and_retries_on_upstream_401(
    http: httpx.AsyncClient, service_key: str, db: Database, stack: Stack
) -> None:
    connection = await connected(http, service_key, db)
    keys = KeyRing.parse(stack.settings.encryption_keys.get_secret_value())  # type: ignore[union-attr]
    stack.sandbox_store.revoke_token(access_token(keys, connection), "sandbox-client")
    response = await proxy_get(http, service_key, connection.user_id, "/profile")
    assert response.status_code == 200
    assert (await load(db, connection.user_id)).token_version == connection.token_version + 1


async def test_shutdown_gives_up_this_process_leases_only(
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    stack: Stack,
    provider_http: httpx.AsyncClient,
) -> None:
    mine, theirs = await connected(http, service_key, db), await connected(http, service_key, db)
    refresher = make_refresher(db, stack.settings, provider_http)
    later = datetime.now(UTC) + timedelta(seconds=60)
    async with db.transaction() as session:
        for connection, owner in ((mine, refresher.owner), (theirs, "another-process")):
            await session.execute(
                update(Connection)
                .where(Connection.id == connection.id)
                .values(lease_owner=owner, lease_expires_at=later)
            )

    assert await refresher.release_all() == 1

    assert (await load(db, mine.user_id)).lease_owner is None
    assert (await load(db, theirs.user_id)).lease_owner == "another-process"


async def test_waiting_for_another_process_lease_uses_its_result_and_is_counted(
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    stack: Stack,
    provider_http: httpx.AsyncClient,
) -> None:
    connection = await connected(http, service_key, db)
    assert stack.settings.encryption_keys is not None
    keys = KeyRing.parse(stack.settings.encryption_keys.get_secret_value())
    metrics = Metrics()
    refresher = Refresher(
        db, keys, build_registry(stack.settings, provider_http), stack.settings, metrics=metrics
    )
    later = datetime.now(UTC) + timedelta(seconds=60)
    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == connection.id)
            .values(lease_owner="another-process", lease_expires_at=later)
        )
    started_waiting = asyncio.Event()
    leases = refresher._leases
    wait_for_other = leases.wait_for_other

    async def observed(*args: Any, **kwargs: Any) -> Any:
        started_waiting.set()
        return await wait_for_other(*args, **kwargs)

    leases.wait_for_other = observed  # type: ignore[method-assign]
    waiting = asyncio.create_task(
        refresher.refresh(connection.id, seen_version=connection.token_version, spender=OPERATOR)
    )
    await asyncio.wait_for(started_waiting.wait(), timeout=10)
    # The other process finishes: a new version, its lease given up.
    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == connection.id)
            .values(token_version=connection.token_version + 1, lease_owner=None)
        )
    fresh = await waiting
    assert (fresh.refreshed, fresh.connection.token_version) == (
        False,
        connection.token_version + 1,
    )
    assert metrics.lease_waits.labels("contio")._value.get() == 1


async def test_a_dead_holders_lease_is_taken_over_once_it_runs_out(
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    stack: Stack,
    provider_http: httpx.AsyncClient,
) -> None:
    connection = await connected(http, service_key, db)
    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == connection.id)
            .values(
                lease_owner="killed-process",
                lease_expires_at=datetime.now(UTC) + timedelta(seconds=0.3),
            )
        )
    refresher = make_refresher(db, stack.settings, provider_http)

    fresh = await refresher.refresh(
        connection.id, seen_version=connection.token_version, spender=OPERATOR
    )

    assert fresh.refreshed
    assert fresh.connection.token_version == connection.token_version + 1
    assert (await load(db, connection.user_id)).lease_owner is None


async def test_while_refreshes_fail_callers_try_the_provider_at_most_every_few_seconds(
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    stack: Stack,
    provider_http: httpx.AsyncClient,
) -> None:
    connection = await connected(http, service_key, db)

    async def failed(seconds_ago: float) -> None:
        at = datetime.now(UTC) - timedelta(seconds=seconds_ago)
        async with db.transaction() as session:
            await session.execute(
                update(Connection)
                .where(Connection.id == connection.id)
                .values(
                    consecutive_failures=3,
                    last_refresh_error={
                        "code": "provider_unavailable",
                        "message": "down",
                        "at": at.isoformat(),
                    },
                )
            )

    refresher = make_refresher(db, stack.settings, provider_http)
    calls = stack.sandbox_store.stats()["refresh_calls"]
    await failed(seconds_ago=2)
    with pytest.raises(ProviderUnavailable) as spaced:
        await refresher.refresh(connection.id, spender=OPERATOR)
    assert spaced.value.retry_after is not None and 7 <= spaced.value.retry_after <= 8.5
    assert stack.sandbox_store.stats()["refresh_calls"] == calls

    await failed(seconds_ago=11)
    fresh = await refresher.refresh(connection.id, spender=OPERATOR)
    assert fresh.refreshed and fresh.connection.consecutive_failures == 0


async def test_a_401_refreshes_a_connection_at_most_once_per_cooldown(
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    stack: Stack,
    provider_http: httpx.AsyncClient,
) -> None:
    connection = await connected(http, service_key, db)
    settings = stack.settings.model_copy(update={"proxy_401_refresh_cooldown_seconds": 60})
    refresher = make_refresher(db, settings, provider_http)
    first = await refresher.refresh(
        connection.id, spender=OPERATOR, seen_version=connection.token_version, rejected=True
    )
    assert first.refreshed and first.connection.unauthorized_refresh_at is not None
    again = await refresher.refresh(
        connection.id, spender=OPERATOR, seen_version=first.connection.token_version, rejected=True
    )
    assert not again.refreshed
    assert again.connection.token_version == first.connection.token_version
    # Refreshes for any other reason are not held back by the cool-down.
    ordinary = await refresher.refresh(
        connection.id, spender=OPERATOR, seen_version=first.connection.token_version
    )
    assert ordinary.refreshed
    # Once the cool-down has passed, a 401 refreshes again.
    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == connection.id)
            .values(unauthorized_refresh_at=datetime.now(UTC) - timedelta(seconds=61))
        )
    later = await refresher.refresh(
        connection.id,
        spender=OPERATOR,
        seen_version=ordinary.connection.token_version,
        rejected=True,
    )
    assert later.refreshed
