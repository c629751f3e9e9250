"""A refresh reads the token response's settings again: a Salesforce-like provider that moves a
user to another instance says so in the refresh's token response, the connection keeps the new
``instance_url``, and the proxy's calls follow it once its cache is told. A moved instance
outside the profile's ``allowed_hosts`` is refused: the new tokens are kept, the old settings
stay, the calls still go to the old instance, and the refusal is logged with the host alone.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import URL

from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import Connection, RecordKind, TimelineRecord
from gateway.providers.registry import build_registry
from gateway.settings import Settings
from gateway.tokens import grant
from gateway.tokens.loop import refresh_due
from gateway.tokens.refresher import Refresher
from gateway_sandbox import SandboxOptions, create_sandbox_app
from tests.e2e.test_instance_url import clients, connect, provider
from tests.fixtures.servers import ServerThread, free_port
from tests.fixtures.stack import Stack, beside_the_stack
from tests.hostile.owner_fixtures import Client, Clients

__all__ = ["clients"]  # fixtures

DEADLINE_SECONDS = 10.0


class Moving:
    """A gateway beside one sandbox whose instance the test moves."""

    def __init__(self, gateway: ServerThread, sandbox: ServerThread, settings: Settings) -> None:
        self.gateway = gateway
        self.sandbox = sandbox
        self.settings = settings  # the gateway's, the Salesforce-like provider in its file

    def move_to(self, instance_url: str) -> None:
        moved = httpx.post(
            f"{self.sandbox.url}/_sandbox/instance", json={"instance_url": instance_url}
        )
        assert moved.status_code == 200, moved.text


@pytest.fixture(scope="module")
def moving(
    stack: Stack, database_url: URL, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Moving]:
    port = free_port()
    options = SandboxOptions(
        redirect_uris=(f"http://127.0.0.1:{port}/oauth/callback",),
        auto_approve=True,
        instance_url="{origin}/instances/na1",
    )
    sandbox = ServerThread(create_sandbox_app(options)).start()
    providers_file = Path(tmp_path_factory.mktemp("moving")) / "providers.toml"
    providers_file.write_text(provider("salesforce", sandbox.url))
    gateway, settings = beside_the_stack(stack, database_url, providers_file, port)
    try:
        yield Moving(gateway, sandbox, settings)
    finally:
        gateway.stop()
        sandbox.stop()


@pytest.fixture
async def http(moving: Moving) -> AsyncIterator[httpx.AsyncClient]:
    moving.move_to("{origin}/instances/na1")
    async with httpx.AsyncClient(base_url=moving.gateway.url, timeout=10) as client:
        yield client


async def connection_of(http: httpx.AsyncClient, client: Client, user_id: str) -> dict[str, object]:
    listed = await http.get("/v1/connections", params={"user_id": user_id}, headers=client.auth)
    [shown] = listed.json()["items"]
    assert isinstance(shown, dict)
    return shown


async def instance_served(http: httpx.AsyncClient, client: Client, user_id: str) -> str:
    called = await http.get(
        f"/proxy/users/{user_id}/profile",
        headers={**client.auth, "Gateway-Provider": "salesforce"},
    )
    assert called.status_code == 200, called.text
    return called.headers["x-sandbox-instance"]


async def served_within_deadline(
    http: httpx.AsyncClient, client: Client, user_id: str, instance: str
) -> None:
    """Poll until the proxy serves the user from ``instance`` (its cache is dropped by a
    notification, which arrives moments after the refresh commits)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while (served := await instance_served(http, client, user_id)) != instance:
        assert time.monotonic() < deadline, f"still served from {served}"


async def test_a_refresh_stores_the_moved_instance_and_the_calls_follow_it(
    http: httpx.AsyncClient, moving: Moving, clients: Clients
) -> None:
    for client in (clients.confined, clients.open_):
        user_id = f"b-{uuid.uuid4().hex[:10]}"
        connected = await connect(http, client.key, user_id, "salesforce")
        assert connected.status_code == 200, connected.text
        assert await instance_served(http, client, user_id) == "na1"
        moving.move_to("{origin}/instances/na2")
        shown = await connection_of(http, client, user_id)

        refreshed = await http.post(f"/v1/connections/{shown['id']}/token", headers=client.auth)

        assert refreshed.status_code == 200, refreshed.text
        moved = moving.sandbox.url + "/instances/na2"
        assert refreshed.json()["settings"] == {"instance_url": moved}
        assert (await connection_of(http, client, user_id))["settings"] == {"instance_url": moved}
        await served_within_deadline(http, client, user_id, "na2")
        moving.move_to("{origin}/instances/na1")


async def test_a_moved_instance_outside_allowed_hosts_is_refused_and_the_old_one_kept(
    http: httpx.AsyncClient,
    moving: Moving,
    clients: Clients,
    db: Database,
    stack: Stack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = clients.patterned
    user_id = f"b-{uuid.uuid4().hex[:10]}"
    connected = await connect(http, client.key, user_id, "salesforce")
    assert connected.status_code == 200, connected.text
    shown = await connection_of(http, client, user_id)
    kept = {"instance_url": moving.sandbox.url + "/instances/na1"}
    moving.move_to("https://na9.elsewhere.example/instances/na9")

    with caplog.at_level(logging.WARNING, logger="gateway.tokens.obtain"):
        refreshed = await http.post(f"/v1/connections/{shown['id']}/token", headers=client.auth)

    assert refreshed.status_code == 200, refreshed.text  # the new tokens are kept ...
    assert refreshed.json()["settings"] == kept  # ... and the settings are not
    assert refreshed.json()["last_refreshed_at"] not in (None, shown["last_refreshed_at"])
    assert await instance_served(http, client, user_id) == "na1"
    [warning] = [r for r in caplog.records if r.name == "gateway.tokens.obtain"]
    logged = warning.getMessage()
    assert "na9.elsewhere.example" in logged and str(shown["id"]) in logged
    assert stack.settings.encryption_keys is not None
    keys = KeyRing.parse(stack.settings.encryption_keys.get_secret_value())
    async with db.transaction() as session:
        row = await session.get(Connection, uuid.UUID(str(shown["id"])))
        assert row is not None
        assert row.provider_settings == kept
        token = grant.access_token(keys, row)
    assert token not in logged and token not in refreshed.text


async def test_the_refreshers_batches_store_a_moved_instance_too(
    http: httpx.AsyncClient, moving: Moving, clients: Clients, db: Database
) -> None:
    """The refresher's own cycle writes in groups of one statement (``tokens.writeback``), not
    through a single refresh's write: it keeps the token response's settings all the same."""
    client = clients.confined
    user_id = f"b-{uuid.uuid4().hex[:10]}"
    connected = await connect(http, client.key, user_id, "salesforce")
    assert connected.status_code == 200, connected.text
    shown = await connection_of(http, client, user_id)
    moving.move_to("{origin}/instances/na2")
    connection_id = uuid.UUID(str(shown["id"]))
    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == connection_id)
            .values(next_refresh_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    settings = moving.settings
    assert settings.encryption_keys is not None
    keys = KeyRing.parse(settings.encryption_keys.get_secret_value())

    async with httpx.AsyncClient(timeout=10) as provider_http:
        refresher = Refresher(db, keys, build_registry(settings, provider_http), settings)
        await refresh_due(refresher, batch_size=1000)

    moved = {"instance_url": moving.sandbox.url + "/instances/na2"}
    assert (await connection_of(http, client, user_id))["settings"] == moved
    async with db.transaction() as session:
        details = await session.scalar(
            select(TimelineRecord.details)
            .where(
                TimelineRecord.connection_id == connection_id,
                TimelineRecord.kind == RecordKind.REFRESHED,
            )
            .order_by(TimelineRecord.occurred_at.desc())
            .limit(1)
        )
    assert details is not None and details["settings_changed"] == ["instance_url"]
    await served_within_deadline(http, client, user_id, "na2")
