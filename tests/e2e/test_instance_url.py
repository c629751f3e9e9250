"""A Salesforce-like provider end to end: the token response names the user's instance
(``instance_url``), the connection keeps it as a setting, and proxied calls go to the API under
that instance. An instance outside the profile's ``allowed_hosts`` is refused (422) and nothing is
stored. Two sandboxes stand for the provider: one naming an instance on loopback, one naming a host
the profile does not allow.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import URL

from gateway.kit.db import Database
from gateway.models import Connection
from gateway_sandbox import SandboxOptions, create_sandbox_app
from tests.e2e.flows import open_session, to_callback
from tests.fixtures.servers import ServerThread, free_port
from tests.fixtures.stack import Stack, beside_the_stack
from tests.hostile.owner_fixtures import Clients, make_client

INSTANCE = "/instances/na1"
USER_API = "/v1/partner/user"


@dataclass
class InstanceStack:
    gateway: ServerThread
    instance: ServerThread
    elsewhere: ServerThread


def provider(name: str, sandbox: str) -> str:
    return f"""
[providers.{name}]
issuer = "{sandbox}"
authorize_url = "{sandbox}/oauth2/authorize"
token_url = "{sandbox}/oauth2/token"
revocation_url = "{sandbox}/oauth2/revoke"
userinfo_url = "{sandbox}/oauth2/userInfo"
api_base_url = "{{instance_url}}{USER_API}"
allowed_hosts = ["127.0.0.1"]
client_id = "sandbox-client"
client_secret = "sandbox-secret"
scopes = ["profile", "email", "meetings:read"]
token_response = {{ settings = ["instance_url"] }}
"""


@pytest.fixture(scope="module")
def instances(
    stack: Stack, database_url: URL, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InstanceStack]:
    port = free_port()
    redirect = (f"http://127.0.0.1:{port}/oauth/callback",)

    def sandbox(instance_url: str) -> ServerThread:
        options = SandboxOptions(
            redirect_uris=redirect, auto_approve=True, instance_url=instance_url
        )
        return ServerThread(create_sandbox_app(options)).start()

    instance = sandbox("{origin}" + INSTANCE)
    elsewhere = sandbox("https://na1.elsewhere.example" + INSTANCE)
    providers_file = Path(tmp_path_factory.mktemp("instances")) / "providers.toml"
    providers_file.write_text(
        provider("salesforce", instance.url) + provider("elsewhere", elsewhere.url)
    )
    gateway, _ = beside_the_stack(stack, database_url, providers_file, port)
    try:
        yield InstanceStack(gateway, instance, elsewhere)
    finally:
        gateway.stop()
        instance.stop()
        elsewhere.stop()


@pytest.fixture
async def http(instances: InstanceStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=instances.gateway.url, timeout=10) as client:
        yield client


@pytest.fixture
async def clients(db: Database) -> Clients:
    service = ["connect", "proxy"]
    return Clients(
        confined=await make_client(db, service, own_users_only=True),
        patterned=await make_client(db, service, user_pattern=r"b-[0-9a-f]+"),
        open_=await make_client(db, service),
        operator=await make_client(db, ["admin"]),
    )


async def connect(
    http: httpx.AsyncClient, key: str, user_id: str, provider_name: str
) -> httpx.Response:
    session = await open_session(
        http,
        key,
        user_id=user_id,
        provider=provider_name,
        login_hint=f"acct-{uuid.uuid4().hex[:8]}@example.com",
    )
    async with httpx.AsyncClient(timeout=10) as browser:
        callback = await to_callback(browser, session["connect_url"])
        return await browser.get(callback, headers={"Accept": "application/json"})


async def test_the_instance_is_kept_and_calls_go_under_it_for_each_client_in_its_space(
    http: httpx.AsyncClient, instances: InstanceStack, clients: Clients
) -> None:
    for client in (clients.confined, clients.open_):
        user_id = f"b-{uuid.uuid4().hex[:10]}"
        connected = await connect(http, client.key, user_id, "salesforce")
        assert connected.status_code == 200, connected.text
        listed = await http.get("/v1/connections", params={"user_id": user_id}, headers=client.auth)
        [shown] = listed.json()["items"]
        assert shown["settings"] == {"instance_url": instances.instance.url + INSTANCE}

        called = await http.get(
            f"/proxy/users/{user_id}/profile",
            headers={**client.auth, "Gateway-Provider": "salesforce"},
        )
        assert called.status_code == 200, called.text
        assert called.headers["x-sandbox-instance"] == "na1"
        assert called.headers["x-sandbox-credential"] == "authorization:bearer"

    # Each client's user is in its own space: the other one does not find it.
    hidden = await http.get(
        f"/proxy/users/{user_id}/profile",
        headers={**clients.confined.auth, "Gateway-Provider": "salesforce"},
    )
    assert hidden.status_code == 404


async def test_an_instance_outside_allowed_hosts_is_refused_and_nothing_is_stored(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    user_id = f"b-{uuid.uuid4().hex[:10]}"
    refused = await connect(http, clients.open_.key, user_id, "elsewhere")
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "setting_not_allowed"
    assert error["details"]["host"] == "na1.elsewhere.example"
    async with db.transaction() as session:
        stored = await session.scalar(
            select(func.count()).select_from(Connection).where(Connection.user_id == user_id)
        )
    assert stored == 0
