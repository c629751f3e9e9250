"""Provider profiles on the proxy: the credential in the header, scheme or query parameter the
profile names (a caller's of that name never reaches the provider, and the access log masks the
parameter), and an API base URL made from the connection's settings, checked against
``allowed_hosts`` when an operator sets them and on every call.

A gateway of its own, whose providers' APIs are a loopback ``EchoUpstream`` (it says what it
received); connections are written straight into the shared database.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.engine import URL

from gateway.connections import store
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import AuditEvent, Connection
from gateway.providers.token_response import TokenSet
from tests.fixtures.servers import ServerThread, free_port
from tests.fixtures.stack import Stack, beside_the_stack
from tests.proxy.conftest import EchoGateway, bearer, eventually, make_client
from tests.proxy.upstream import BASE, EchoUpstream

WITHIN = 2.0
ENDPOINTS = """
authorize_url = "http://127.0.0.1:9/authorize"
token_url = "http://127.0.0.1:9/token"
client_id = "gateway"
client_secret = "not-used"
"""


@pytest.fixture(scope="module")
def profiles(
    stack: Stack, database_url: URL, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EchoGateway]:
    upstream = EchoUpstream()
    upstream_server = ServerThread(upstream, lifespan="off").start()
    api = f"{upstream_server.url}{BASE}"
    providers_file = Path(tmp_path_factory.mktemp("profiles")) / "providers.toml"
    providers_file.write_text(
        f"""
[providers.scheme]
api_base_url = "{api}"
{ENDPOINTS}
auth_header = {{ scheme = "token" }}

[providers.apikey]
api_base_url = "{api}"
{ENDPOINTS}
auth_header = {{ header = "X-Api-Key", scheme = "" }}

[providers.query]
api_base_url = "{api}"
{ENDPOINTS}
auth_header = {{ query_param = "api_key" }}

[providers.instance]
api_base_url = "{{instance_url}}{BASE}"
allowed_hosts = ["127.0.0.1"]
token_response = {{ settings = ["instance_url"] }}
{ENDPOINTS}
"""
    )
    gateway, settings = beside_the_stack(stack, database_url, providers_file, free_port())
    assert settings.encryption_keys is not None
    keys = KeyRing.parse(settings.encryption_keys.get_secret_value())
    try:
        yield EchoGateway(gateway, upstream, upstream_server, settings, keys)
    finally:
        gateway.stop()
        upstream_server.stop()


@pytest.fixture
async def gw(profiles: EchoGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=profiles.gateway.url, timeout=10) as client:
        yield client


async def seed(
    db: Database,
    profiles: EchoGateway,
    provider: str,
    *,
    owner: uuid.UUID | None = None,
    space: uuid.UUID | None = None,
    settings: dict[str, str] | None = None,
) -> tuple[str, str, uuid.UUID]:
    """A connection of a fresh user at ``provider``: the user id, its token and its id."""
    user_id = f"user-{uuid.uuid4().hex[:10]}"
    token = f"tok-{uuid.uuid4().hex}"
    async with db.transaction() as session:
        connection, _ = await store.save_grant(
            session,
            profiles.keys,
            user_id=user_id,
            provider=provider,
            subject=f"sub-{user_id}",
            tokens=TokenSet(
                access_token=SecretStr(token),
                refresh_token=None,
                expires_in=3600,
                scopes=None,
                id_token=None,
                token_type="Bearer",
                settings=settings or {},
            ),
            client_id=owner,
            settings=profiles.settings,
            owner=owner,
            space=space,
        )
    return user_id, token, connection.id


def received(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def headers_of(seen: dict[str, object], name: str) -> list[str]:
    pairs = seen["headers"]
    assert isinstance(pairs, list)
    return [value for key, value in pairs if key == name]


async def test_the_token_goes_with_the_scheme_the_profile_names(
    db: Database, profiles: EchoGateway, gw: httpx.AsyncClient
) -> None:
    key = (await make_client(db, ["GET /**"])).key
    user_id, token, _ = await seed(db, profiles, "scheme")
    seen = received(
        await gw.get(
            f"/proxy/users/{user_id}/echo/x",
            headers={**bearer(key), "Gateway-Provider": "scheme"},
        )
    )
    assert headers_of(seen, "authorization") == [f"token {token}"]


async def test_the_token_goes_bare_in_the_profiles_header_and_a_callers_one_never_arrives(
    db: Database, profiles: EchoGateway, gw: httpx.AsyncClient
) -> None:
    key = (await make_client(db, ["GET /**"])).key
    user_id, token, _ = await seed(db, profiles, "apikey")
    seen = received(
        await gw.get(
            f"/proxy/users/{user_id}/echo/x",
            headers={**bearer(key), "Gateway-Provider": "apikey", "X-Api-Key": "forged"},
        )
    )
    assert headers_of(seen, "x-api-key") == [token]
    assert headers_of(seen, "authorization") == []


async def test_the_token_goes_in_the_query_a_callers_parameter_is_dropped_and_never_logged(
    db: Database,
    profiles: EchoGateway,
    gw: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = (await make_client(db, ["GET /**"])).key
    user_id, token, _ = await seed(db, profiles, "query")
    caplog.set_level(logging.INFO, logger="gateway.access")
    seen = received(
        await gw.get(
            f"/proxy/users/{user_id}/echo/x?page=2&api_key=forged&API%5Fkey=forged2&b=1",
            headers={**bearer(key), "Gateway-Provider": "query"},
        )
    )
    assert seen["query"] == f"page=2&b=1&api_key={token}"
    assert headers_of(seen, "authorization") == []

    def logged() -> list[str]:
        return [
            r.getMessage() for r in caplog.records if f"/proxy/users/{user_id}/" in r.getMessage()
        ]

    async def written() -> bool:
        return bool(logged())

    await eventually(written, within=WITHIN, what="the access log line")
    [line] = logged()
    assert "forged" not in line and token not in line
    assert "api_key=***" in line


async def test_the_api_base_is_made_from_the_connections_settings(
    db: Database, profiles: EchoGateway, gw: httpx.AsyncClient
) -> None:
    key = (await make_client(db, ["GET /**"])).key
    instance = f"{profiles.upstream_server.url}/tenants/t1"
    user_id, token, _ = await seed(db, profiles, "instance", settings={"instance_url": instance})
    seen = received(
        await gw.get(
            f"/proxy/users/{user_id}/echo/x?q=1",
            headers={**bearer(key), "Gateway-Provider": "instance"},
        )
    )
    assert seen["path"] == f"/tenants/t1{BASE}/echo/x"
    assert seen["query"] == "q=1"
    assert headers_of(seen, "authorization") == [f"Bearer {token}"]


async def test_stored_settings_outside_allowed_hosts_are_refused_on_the_call(
    db: Database, profiles: EchoGateway, gw: httpx.AsyncClient
) -> None:
    """Written behind the gateway's back (or allowed_hosts narrowed since): no call leaves."""
    key = (await make_client(db, ["GET /**"])).key
    user_id, _, _ = await seed(
        db, profiles, "instance", settings={"instance_url": "http://localhost:9/elsewhere"}
    )
    before = len(profiles.upstream.seen("/echo/y"))
    response = await gw.get(
        f"/proxy/users/{user_id}/echo/y", headers={**bearer(key), "Gateway-Provider": "instance"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "setting_not_allowed"
    assert len(profiles.upstream.seen("/echo/y")) == before


async def settings_of(db: Database, connection_id: uuid.UUID) -> dict[str, str]:
    async with db.transaction() as session:
        found = await session.scalar(
            select(Connection.provider_settings).where(Connection.id == connection_id)
        )
    assert found is not None
    return dict(found)


async def test_an_operator_sets_settings_checked_against_allowed_hosts_and_audited(
    db: Database, profiles: EchoGateway, gw: httpx.AsyncClient
) -> None:
    operator = (await make_client(db, [], scopes=("admin",))).key
    key = (await make_client(db, ["GET /**"])).key
    first = f"{profiles.upstream_server.url}/tenants/a"
    user_id, _, connection_id = await seed(
        db, profiles, "instance", settings={"instance_url": first}
    )
    path = f"/v1/connections/{connection_id}"

    refused = await gw.patch(
        path,
        json={"settings": {"instance_url": "https://evil.example/x"}},
        headers=bearer(operator),
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "setting_not_allowed"
    assert await settings_of(db, connection_id) == {"instance_url": first}

    moved = f"{profiles.upstream_server.url}/tenants/b"
    changed = await gw.patch(
        path, json={"settings": {"instance_url": moved}}, headers=bearer(operator)
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["settings"] == {"instance_url": moved}
    async with db.transaction() as session:
        entry = await session.scalar(
            select(AuditEvent)
            .where(AuditEvent.connection_id == connection_id)
            .where(AuditEvent.action == "connection.updated")
        )
    assert entry is not None and entry.details["fields"] == ["settings"]

    async def follows() -> bool:
        response = await gw.get(
            f"/proxy/users/{user_id}/echo/z",
            headers={**bearer(key), "Gateway-Provider": "instance"},
        )
        return received(response)["path"] == f"/tenants/b{BASE}/echo/z"

    await eventually(follows, within=WITHIN, what="the proxy follows the new settings")


async def test_no_service_client_sets_settings_not_even_the_owner_nor_a_confined_one(
    db: Database, profiles: EchoGateway, gw: httpx.AsyncClient
) -> None:
    owner = await make_client(db, ["GET /**"], scopes=("connect", "proxy"))
    confined = await make_client(db, ["GET /**"], scopes=("connect", "proxy"), own_users_only=True)
    instance = f"{profiles.upstream_server.url}/tenants/own"
    _, _, shared_id = await seed(
        db, profiles, "instance", owner=owner.id, settings={"instance_url": instance}
    )
    _, _, own_id = await seed(
        db,
        profiles,
        "instance",
        owner=confined.id,
        space=confined.id,
        settings={"instance_url": instance},
    )
    patch = {"settings": {"instance_url": f"{profiles.upstream_server.url}/tenants/moved"}}
    for client, connection_id in ((owner, shared_id), (confined, own_id)):
        response = await gw.patch(
            f"/v1/connections/{connection_id}", json=patch, headers=bearer(client.key)
        )
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "settings_operator_only"
        assert await settings_of(db, connection_id) == {"instance_url": instance}
    # Each still does what its ownership allows, on its own connection only.
    assert (
        await gw.patch(
            f"/v1/connections/{own_id}", json={"labels": {"t": "1"}}, headers=bearer(confined.key)
        )
    ).status_code == 200
    assert (
        await gw.patch(
            f"/v1/connections/{own_id}", json={"labels": {"t": "2"}}, headers=bearer(owner.key)
        )
    ).status_code == 404
