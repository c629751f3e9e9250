"""Delegated keys attacked at the proxy, over real HTTP: used outside their connection, after
expiry, after revocation (on two gateway processes sharing the database), and after their issuer
was disabled or lost the proxy scope.

The stack's gateway and a second one (``replica``) are real servers on loopback with caches and
listeners of their own; the Contio sandbox is the provider.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import URL

from gateway.app import create_app
from gateway.clients.limits import RateLimit
from gateway.clients.store import ClientChanges, update_client
from gateway.kit.db import Database
from gateway.models import Connection
from tests.connections.delegated_fixtures import audited, bearer, connection_of, issued
from tests.fixtures.servers import ServerThread, free_port
from tests.fixtures.stack import Stack
from tests.hostile.owner_fixtures import Clients, clients, error_code, make_client
from tests.proxy.conftest import eventually

__all__ = ["clients"]  # fixtures

WITHIN = 2.0  # seconds: every replica applies a revocation within a second; expiry is per call


@pytest.fixture(scope="module")
def replica(stack: Stack, database_url: URL) -> Iterator[ServerThread]:
    """A second gateway process on the same database."""
    port = free_port()
    settings = stack.settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    server = ServerThread(create_app(settings, database_url), port=port).start()
    yield server
    server.stop()


@pytest.fixture
async def gateways(
    http: httpx.AsyncClient, replica: ServerThread
) -> AsyncIterator[list[httpx.AsyncClient]]:
    async with httpx.AsyncClient(base_url=replica.url, timeout=10) as second:
        yield [http, second]


async def users_route(
    gateway: httpx.AsyncClient, connection: Connection, key: dict[str, Any]
) -> httpx.Response:
    return await gateway.get(f"/proxy/users/{connection.user_id}/meetings", headers=bearer(key))


async def test_a_delegated_key_is_refused_on_a_users_route_and_the_refusal_audited(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connection_of(http, db, clients.patterned)
    key = await issued(http, clients.patterned, connection.id)

    refused = await users_route(http, connection, key)

    assert (refused.status_code, error_code(refused)) == (403, "delegated_key_not_allowed")
    assert f"/proxy/connections/{connection.id}/" in refused.json()["error"]["message"]
    [event] = await audited(db, connection.id, "proxy.forbidden")
    assert event.details["reason"] == "delegated_key_elsewhere"
    assert event.actor == f"client:{clients.patterned.name}"


async def test_a_revoked_key_is_refused_by_every_replica(
    db: Database, clients: Clients, gateways: list[httpx.AsyncClient]
) -> None:
    http = gateways[0]
    connection = await connection_of(http, db, clients.patterned)
    key = await issued(http, clients.patterned, connection.id)
    for gateway in gateways:  # each caches the key's principal
        assert (await users_route(gateway, connection, key)).status_code == 403

    revoked = await http.delete(
        f"/v1/connections/{connection.id}/keys/{key['id']}", headers=clients.patterned.auth
    )
    assert revoked.status_code == 204

    for number, gateway in enumerate(gateways):

        async def refused(gateway: httpx.AsyncClient = gateway) -> bool:
            return (await users_route(gateway, connection, key)).status_code == 401

        await eventually(refused, within=WITHIN, what=f"gateway {number} refuses the revoked key")


async def test_an_expired_key_is_refused_though_its_principal_is_cached(
    db: Database, clients: Clients, gateways: list[httpx.AsyncClient]
) -> None:
    http = gateways[0]
    connection = await connection_of(http, db, clients.patterned)
    key = await issued(http, clients.patterned, connection.id, ttl_seconds=1)
    first = await users_route(http, connection, key)
    assert (first.status_code, error_code(first)) == (403, "delegated_key_not_allowed")

    async def refused() -> bool:
        answers = [await users_route(gateway, connection, key) for gateway in gateways]
        return all(answer.status_code == 401 for answer in answers)

    await eventually(refused, within=3.0, what="every gateway refuses the expired key")
    answer = await users_route(http, connection, key)
    assert answer.json()["error"]["message"] == "the service key is not valid"


@pytest.mark.parametrize(
    "change", [{"disabled": True}, {"remove_scopes": ["proxy"]}], ids=["disabled", "no-proxy"]
)
async def test_a_key_stops_working_when_its_issuer_may_no_longer_proxy(
    db: Database, gateways: list[httpx.AsyncClient], change: dict[str, Any]
) -> None:
    http = gateways[0]
    issuer = await make_client(db, ["connect", "proxy"])
    connection = await connection_of(http, db, issuer)
    key = await issued(http, issuer, connection.id)
    for gateway in gateways:
        assert (await users_route(gateway, connection, key)).status_code == 403

    async with db.transaction() as session:
        await update_client(session, issuer.name, ClientChanges(**change))

    async def refused() -> bool:
        answers = [await users_route(gateway, connection, key) for gateway in gateways]
        return all(answer.status_code == 401 for answer in answers)

    await eventually(refused, within=WITHIN, what="every gateway refuses the issuer's key")


# On its own connection (/proxy/connections/{id}/...)


async def by_id(
    gateway: httpx.AsyncClient, connection: Connection, key: dict[str, Any], path: str = "/meetings"
) -> httpx.Response:
    return await gateway.get(f"/proxy/connections/{connection.id}{path}", headers=bearer(key))


async def test_a_key_proxies_for_its_connection_only_and_every_call_is_audited(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connection_of(http, db, clients.patterned)
    other = await connection_of(http, db, clients.patterned)
    key = await issued(http, clients.patterned, connection.id, allow=["GET /meetings/**"])

    answers = [await by_id(http, connection, key) for _ in range(3)]
    elsewhere = await by_id(http, other, key)
    unknown = await http.get(f"/proxy/connections/{uuid.uuid4()}/meetings", headers=bearer(key))
    outside_rules = await by_id(http, connection, key, "/profile")

    assert [answer.status_code for answer in answers] == [200] * 3, answers[0].text
    for refused in (elsewhere, unknown):
        assert (refused.status_code, error_code(refused)) == (403, "delegated_key_not_allowed")
    assert (outside_rules.status_code, error_code(outside_rules)) == (403, "proxy_forbidden")
    uses = await audited(db, connection.id, "connection.delegated_key_used")
    assert [(u.details["method"], u.details["path"]) for u in uses] == [("GET", "/meetings")] * 3
    assert {u.details["delegated_key_id"] for u in uses} == {key["id"]}
    assert {u.actor for u in uses} == {f"client:{clients.patterned.name}"}
    assert await audited(db, other.id, "connection.delegated_key_used") == []
    refusals = await audited(db, connection.id, "proxy.forbidden")
    assert [(r.details["reason"], r.details.get("addressed")) for r in refusals] == [
        ("delegated_key_elsewhere", str(other.id)),
        ("delegated_key_elsewhere", unknown.json()["error"]["details"]["addressed"]),
        ("no_rule", None),
    ]
    assert await audited(db, other.id, "proxy.forbidden") == []


async def test_a_key_spends_its_issuers_rate_limit(http: httpx.AsyncClient, db: Database) -> None:
    issuer = await make_client(db, ["connect", "proxy"], rate_limit=RateLimit.of(0.01, 2))
    connection = await connection_of(http, db, issuer)
    key = await issued(http, issuer, connection.id)

    by_key = await by_id(http, connection, key)
    by_issuer = await http.get(f"/proxy/connections/{connection.id}/meetings", headers=issuer.auth)
    spent = await by_id(http, connection, key)

    assert (by_key.status_code, by_issuer.status_code) == (200, 200)
    assert (spent.status_code, error_code(spent)) == (429, "rate_limited")


async def test_the_key_keeps_only_the_rules_its_issuers_current_rules_cover(
    http: httpx.AsyncClient, db: Database
) -> None:
    issuer = await make_client(db, ["connect", "proxy"])
    connection = await connection_of(http, db, issuer)
    key = await issued(http, issuer, connection.id, allow=["GET /meetings/**", "GET /profile"])
    assert (await by_id(http, connection, key)).status_code == 200

    async with db.transaction() as session:
        await update_client(
            session,
            issuer.name,
            ClientChanges(remove_allow=["GET /**"], add_allow=["GET /profile"]),
        )

    async def narrowed() -> bool:
        return (await by_id(http, connection, key)).status_code == 403

    await eventually(narrowed, within=WITHIN, what="the key loses the rule its issuer lost")
    assert (await by_id(http, connection, key, "/profile")).status_code == 200
