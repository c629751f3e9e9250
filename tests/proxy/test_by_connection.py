"""``/proxy/connections/{connection_id}/{path}``: one connection addressed by id, default or not,
with the policy, caching and refresh of the user route; who may use which connection; paused
connections; the default moved while calls are under way.

The echo gateway's provider API says which token each call carried; the stack's gateway (the Contio
sandbox) is the second replica where two are needed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import URL

from gateway.app import create_app
from gateway.connections import defaults, ownership, queries
from gateway.kit.db import Database
from gateway.models import AuditEvent, Connection
from gateway.tokens.loop import refresh_due
from tests.e2e.flows import connect_new_user, load_connection
from tests.fixtures.servers import ServerThread, free_port
from tests.proxy.conftest import (
    EchoGateway,
    bearer,
    eventually,
    make_client,
    seed_user,
)
from tests.proxy.upstream import BASE
from tests.tokens.test_refresh import make_refresher, provider_http

__all__ = ["provider_http"]  # fixture

WITHIN = 1.0  # every replica applies a change within a second
ROOT = "/gw"


async def connection_id_of(db: Database, user_id: str, *, default: bool = True) -> uuid.UUID:
    async with db.transaction() as session:
        found = await session.scalar(
            select(Connection.id).where(
                Connection.user_id == user_id, Connection.is_default.is_(default)
            )
        )
    assert found is not None
    return found


async def token_seen(gw: httpx.AsyncClient, key: str, path: str) -> str:
    response = await gw.get(f"{path}/echo/who", headers=bearer(key))
    assert response.status_code == 200, response.text
    return str(dict(response.json()["headers"])["authorization"])


@pytest.fixture(scope="module")
def mounted(echo_gateway: EchoGateway, database_url: URL) -> Iterator[ServerThread]:
    """The echo gateway once more, below a root path (that a proxy in front strips, as uvicorn
    takes it): its proxy calls take the ordinary way (Starlette's routing and ``ProxyRoute``)
    instead of the front door."""
    port = free_port()
    settings = echo_gateway.settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    server = ServerThread(create_app(settings, database_url), port=port, root_path=ROOT).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def ordinary(mounted: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=mounted.url, timeout=30) as client:
        yield client


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("way", ["front door", "ordinary way"])
async def test_every_method_reaches_the_provider_with_the_addressed_connections_token(
    gw: httpx.AsyncClient,
    ordinary: httpx.AsyncClient,
    key: str,
    db: Database,
    echo_gateway: EchoGateway,
    method: str,
    way: str,
) -> None:
    user_id, token = await seed_user(db, echo_gateway)
    connection_id = await connection_id_of(db, user_id)
    client = gw if way == "front door" else ordinary

    response = await client.request(
        method,
        f"/proxy/connections/{connection_id}/echo/by-id?x=1",
        content=b"{}" if method in ("POST", "PUT", "PATCH") else b"",
        headers=bearer(key),
    )

    assert response.status_code == 200, response.text
    if method != "HEAD":
        seen = response.json()
        assert (seen["method"], seen["path"], seen["query"]) == (
            method,
            f"{BASE}/echo/by-id",
            "x=1",
        )
        assert dict(seen["headers"])["authorization"] == f"Bearer {token}"
    metrics = (await client.get("/metrics")).text
    assert 'route="/proxy/connections/{connection_id}/{path:path}"' in metrics


async def test_a_connection_the_caller_may_not_use_is_not_found_and_a_pattern_refusal_audited(
    gw: httpx.AsyncClient, db: Database, echo_gateway: EchoGateway
) -> None:
    confined = await make_client(db, ["* /**"], own_users_only=True)
    open_ = await make_client(db, ["* /**"])
    patterned = await make_client(db, ["* /**"], user_pattern=r"b-[0-9a-f]+")
    narrow = await make_client(db, ["GET /echo/allowed/**"])
    own_user, _ = await seed_user(db, echo_gateway, client_id=confined.id, space=confined.id)
    shared_user, shared_token = await seed_user(db, echo_gateway, client_id=open_.id)
    own = await connection_id_of(db, own_user)
    shared = await connection_id_of(db, shared_user)

    async def status(client_key: str, connection_id: object, path: str = "echo/x") -> int:
        response = await gw.get(
            f"/proxy/connections/{connection_id}/{path}", headers=bearer(client_key)
        )
        if response.status_code == 404:
            assert response.json()["error"]["code"] == "connection_not_found"
        return response.status_code

    assert await status(confined.key, own) == 200
    assert await status(confined.key, shared) == 404  # not in its space
    assert await status(open_.key, own) == 404  # a confined client's
    assert await status(open_.key, shared) == 200
    assert await status(patterned.key, shared) == 404  # outside its pattern
    assert await status(open_.key, uuid.uuid4()) == 404
    assert await status(open_.key, "not-an-id") == 404
    assert await status(narrow.key, shared, "echo/allowed/x") == 200
    assert await status(narrow.key, shared, "echo/other") == 403
    assert (
        await token_seen(gw, open_.key, f"/proxy/connections/{shared}") == f"Bearer {shared_token}"
    )

    async with db.transaction() as session:
        refusals = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.connection_id == shared, AuditEvent.action == "proxy.forbidden"
                )
            )
        ).all()
    reasons = {(event.actor, event.details["reason"]) for event in refusals}
    assert reasons == {
        (f"client:{patterned.name}", "user_pattern"),
        (f"client:{narrow.name}", "no_rule"),
    }


async def test_a_paused_connection_is_refused_by_every_replica_and_still_refreshed(
    http: httpx.AsyncClient,
    service_key: str,
    gw: httpx.AsyncClient,
    key: str,
    db: Database,
    echo_gateway: EchoGateway,
    provider_http: httpx.AsyncClient,
) -> None:
    user_id = await connect_new_user(http, service_key)
    connection = await load_connection(db, user_id)
    routes = [f"/proxy/users/{user_id}", f"/proxy/connections/{connection.id}"]
    replicas = [(http, service_key, "profile"), (gw, key, "echo/who")]

    async def answers() -> set[tuple[int, str | None]]:
        """What every replica answers on every route: (status, the gateway's error code)."""
        found = set()
        for replica, client_key, path in replicas:
            for route in routes:
                response = await replica.get(f"{route}/{path}", headers=bearer(client_key))
                code = response.json()["error"]["code"] if response.status_code >= 400 else None
                found.add((response.status_code, code))
        return found

    assert await answers() == {(200, None)}  # and every cache holds it
    await set_enabled(db, connection.id, enabled=False)

    async def refused_everywhere() -> bool:
        return await answers() == {(409, "connection_disabled")}

    await eventually(refused_everywhere, within=WITHIN, what="every replica refuses it")

    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == connection.id)
            .values(next_refresh_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    await refresh_due(make_refresher(db, echo_gateway.settings, provider_http), batch_size=500)
    refreshed = await load_connection(db, user_id)
    assert refreshed.token_version == connection.token_version + 1
    assert refreshed.next_refresh_at is not None and refreshed.next_refresh_at > datetime.now(UTC)

    await set_enabled(db, connection.id, enabled=True)

    async def served_everywhere() -> bool:
        return await answers() == {(200, None)}

    await eventually(served_everywhere, within=WITHIN, what="every replica serves it again")


async def set_enabled(db: Database, connection_id: uuid.UUID, *, enabled: bool) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Connection).where(Connection.id == connection_id).values(enabled=enabled)
        )


async def test_every_call_uses_the_old_or_the_new_default_while_it_moves_then_only_the_new(
    gw: httpx.AsyncClient, key: str, db: Database, echo_gateway: EchoGateway
) -> None:
    user_id, old_token = await seed_user(db, echo_gateway)
    old = await connection_id_of(db, user_id)
    _, new_token = await seed_user(db, echo_gateway, user_id=user_id, additional=True)
    new = await connection_id_of(db, user_id, default=False)
    by_user = f"/proxy/users/{user_id}"
    assert await token_seen(gw, key, by_user) == f"Bearer {old_token}"
    seen: dict[str, list[str]] = {by_user: [], f"/proxy/connections/{old}": []}
    seen[f"/proxy/connections/{new}"] = []
    stop = asyncio.Event()

    async def traffic(path: str) -> None:
        while not stop.is_set():
            seen[path].append(await token_seen(gw, key, path))

    workers = [asyncio.create_task(traffic(path)) for path in seen for _ in range(3)]
    try:

        async def under_way() -> bool:
            return all(seen.values())

        await eventually(under_way, within=WITHIN, what="calls on every route")
        async with db.transaction() as session:
            connection = await queries.get(session, new, for_update=True)
            await defaults.make_default(session, ownership.AS_OPERATOR, connection, audit_actor="t")

        async def moved() -> bool:
            return bool(seen[by_user]) and seen[by_user][-1] == f"Bearer {new_token}"

        await eventually(moved, within=WITHIN, what="calls for the user use the new default")
    finally:
        stop.set()
        await asyncio.gather(*workers)

    assert set(seen[by_user]) == {f"Bearer {old_token}", f"Bearer {new_token}"}
    assert set(seen[f"/proxy/connections/{old}"]) == {f"Bearer {old_token}"}
    assert set(seen[f"/proxy/connections/{new}"]) == {f"Bearer {new_token}"}
    assert seen[by_user][0] == f"Bearer {old_token}"  # calls ran before the move
    settled = [await token_seen(gw, key, by_user) for _ in range(20)]
    assert set(settled) == {f"Bearer {new_token}"}
