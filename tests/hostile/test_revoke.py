"""Revoking one connection never silently disconnects another holding the same provider account.

A gateway that may use Contio's admin API and receives the sandbox's webhooks; connections made
through real connect flows by two service clients (one confined to its own users) to one sandbox
account (the same login email under different user ids).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.engine import URL
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.clients.store import ClientChanges, create_client, update_client
from gateway.kit.db import Database
from gateway.models import AuditEvent, Connection, ConnectionStatus
from gateway.webhooks import contio
from gateway_sandbox import SandboxOptions, create_sandbox_app
from tests.e2e.flows import connect, load_connection, proxy_get
from tests.fixtures.servers import ServerThread, free_port
from tests.fixtures.stack import gateway_settings

ADMIN_KEY = "revoke-admin-key"
WEBHOOK_SECRET = "revoke-webhook-secret"
DEADLINE = 10.0
REVOKED = "user.connection.revoked"


@dataclass
class Gateway:
    url: str
    sandbox_url: str
    sandbox_app: Starlette

    @property
    def sandbox(self) -> Any:
        return self.sandbox_app.state.sandbox


@pytest.fixture(scope="module")
def gateway(database_url: URL) -> Iterator[Gateway]:
    port = free_port()
    sandbox_app = create_sandbox_app(
        SandboxOptions(
            redirect_uris=(f"http://127.0.0.1:{port}/oauth/callback",),
            auto_approve=True,
            admin_api_key=ADMIN_KEY,
            webhook_url=f"http://127.0.0.1:{port}/webhooks/contio",
            webhook_secret=WEBHOOK_SECRET,
        )
    )
    sandbox = ServerThread(sandbox_app).start()
    settings = gateway_settings(
        port,
        sandbox.url,
        contio_admin_api_key=SecretStr(ADMIN_KEY),
        contio_webhook_secrets=SecretStr(WEBHOOK_SECRET),
    )
    server = ServerThread(create_app(settings, database_url), port=port).start()
    try:
        yield Gateway(server.url, sandbox.url, sandbox_app)
    finally:
        server.stop()
        sandbox.stop()


@dataclass(frozen=True)
class Clients:
    crm: str  # unconfined
    billing: str  # confined to its own users
    operator: str  # admin scope


@pytest.fixture(scope="module")
async def clients(db: Database) -> Clients:
    keys = []
    for scopes, confined in ((["connect", "proxy"], False), (["connect", "proxy"], True)):
        name = f"svc-{uuid.uuid4().hex[:10]}"
        async with db.transaction() as session:
            _client, issued = await create_client(session, name, scopes, ["GET /**"])
            if confined:
                await update_client(session, name, ClientChanges(own_users_only=True))
        keys.append(issued.key)
    async with db.transaction() as session:
        _client, admin = await create_client(session, f"ops-{uuid.uuid4().hex[:10]}", ["admin"], [])
    return Clients(crm=keys[0], billing=keys[1], operator=admin.key)


@pytest.fixture
async def http(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def connected(http: httpx.AsyncClient, db: Database, key: str, email: str) -> Connection:
    """A fresh user id connected by the client of ``key`` to the sandbox account of ``email``."""
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    response = await connect(http, key, user_id, login_hint=email)
    assert response.status_code == 200, response.text
    return await load_connection(db, user_id)


def account() -> str:
    return f"shared-{uuid.uuid4().hex[:8]}@example.com"


async def reload(db: Database, connection_id: uuid.UUID) -> Connection:
    async with db.transaction() as session:
        found = await session.get(Connection, connection_id, populate_existing=True)
    assert found is not None
    return found


async def audit_actions(db: Database, connection_id: uuid.UUID) -> list[str]:
    async with db.transaction() as session:
        return list(
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.connection_id == connection_id)
            )
        )


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def delivered_revocations(gateway: Gateway) -> int:
    return sum(
        d.event_type == REVOKED and d.status == "delivered"
        for d in gateway.sandbox.deliveries.all()
    )


def wait_for_delivered_revocations(gateway: Gateway, count: int) -> bool:
    """Whether ``count`` revocation webhooks reached the gateway (and were answered 2xx) in time."""
    return bool(
        gateway.sandbox.deliveries.wait_for(
            lambda deliveries: (
                sum(d.event_type == REVOKED and d.status == "delivered" for d in deliveries)
                >= count
            ),
            timeout=DEADLINE,
        )
    )


async def proxies(http: httpx.AsyncClient, key: str, connection: Connection) -> bool:
    response = await proxy_get(http, key, connection.user_id, "/meetings")
    return response.status_code == 200


def sharing_ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["sharing_connections"]]


async def test_revoking_one_of_two_sharing_connections_leaves_the_other_working(
    http: httpx.AsyncClient, db: Database, clients: Clients, gateway: Gateway
) -> None:
    email = account()
    crm = await connected(http, db, clients.crm, email)
    billing = await connected(http, db, clients.billing, email)
    elsewhere = await connected(http, db, clients.crm, account())
    assert crm.subject == billing.subject != elsewhere.subject
    webhooks_before = delivered_revocations(gateway)

    response = await http.delete(f"/v1/connections/{crm.id}", headers=bearer(clients.operator))

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["upstream_revocation"]) == ("revoked", "done")
    assert body["revocation"] == {
        "connection_id": str(crm.id),
        "upstream": "grant_tokens",
        "sharing_connections": [
            {
                "id": str(billing.id),
                "user_id": billing.user_id,
                "provider": "contio",
                "status": "active",
                "ended": False,
            }
        ],
    }
    assert await proxies(http, clients.billing, billing)
    assert (await reload(db, billing.id)).status is ConnectionStatus.ACTIVE
    assert (await proxy_get(http, clients.crm, crm.user_id, "/meetings")).status_code == 410
    user = gateway.sandbox.user_by_email(email)
    assert gateway.sandbox.connection(gateway.sandbox.connection_id(user)).status == "active"
    assert delivered_revocations(gateway) == webhooks_before  # no account-wide revocation

    # The last connection of the account, connected again so that the sandbox holds a grant the
    # gateway has no tokens for: only the account-wide revocation ends that one (and sends the
    # webhook, which must end nothing else).
    again = await connect(http, clients.billing, billing.user_id, login_hint=email)
    assert again.status_code == 200, again.text
    assert sum(g.revoked_at is None for g in gateway.sandbox.grants(email)) == 2

    last = await http.delete(f"/v1/connections/{billing.id}", headers=bearer(clients.operator))

    assert last.json()["revocation"] == {
        "connection_id": str(billing.id),
        "upstream": "account_wide",
        "sharing_connections": [],
    }
    assert all(g.revoked_at is not None for g in gateway.sandbox.grants(email))
    assert wait_for_delivered_revocations(gateway, webhooks_before + 1)
    assert (await reload(db, elsewhere.id)).status is ConnectionStatus.ACTIVE
    assert await proxies(http, clients.crm, elsewhere)


async def test_of_three_sharing_connections_only_the_last_revocation_is_account_wide(
    http: httpx.AsyncClient, db: Database, clients: Clients, gateway: Gateway
) -> None:
    email = account()
    first = await connected(http, db, clients.crm, email)
    second = await connected(http, db, clients.billing, email)
    third = await connected(http, db, clients.crm, email)
    operator = bearer(clients.operator)

    one = await http.delete(f"/v1/connections/{first.id}", headers=operator)
    assert one.json()["revocation"]["upstream"] == "grant_tokens"
    assert sharing_ids(one.json()["revocation"]) == [str(second.id), str(third.id)]
    assert await proxies(http, clients.billing, second)
    assert await proxies(http, clients.crm, third)

    two = await http.delete(f"/v1/connections/{second.id}", headers=operator)
    assert two.json()["revocation"]["upstream"] == "grant_tokens"
    assert sharing_ids(two.json()["revocation"]) == [str(third.id)]
    assert await proxies(http, clients.crm, third)
    assert (await reload(db, third.id)).status is ConnectionStatus.ACTIVE

    three = await http.delete(f"/v1/connections/{third.id}", headers=operator)
    assert three.json()["revocation"]["upstream"] == "account_wide"
    assert sharing_ids(three.json()["revocation"]) == []


async def test_the_preview_lists_exactly_the_connections_sharing_the_account(
    http: httpx.AsyncClient, db: Database, clients: Clients, gateway: Gateway
) -> None:
    email = account()
    crm = await connected(http, db, clients.crm, email)
    billing = await connected(http, db, clients.billing, email)
    other = await connected(http, db, clients.billing, account())

    preview = await http.get(
        f"/v1/connections/{crm.id}/revocation", headers=bearer(clients.operator)
    )

    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert (body["connection_id"], body["upstream"]) == (str(crm.id), "grant_tokens")
    assert sharing_ids(body) == [str(billing.id)]
    assert str(other.id) not in preview.text and other.user_id not in preview.text
    alone = await http.get(
        f"/v1/connections/{other.id}/revocation", headers=bearer(clients.operator)
    )
    assert (alone.json()["upstream"], alone.json()["sharing_connections"]) == ("account_wide", [])
    # Nothing was revoked by looking.
    assert (await reload(db, crm.id)).status is ConnectionStatus.ACTIVE
    assert await proxies(http, clients.crm, crm)
    # Service clients without the admin scope see nothing of it.
    for key in (clients.crm, clients.billing):
        refused = await http.get(f"/v1/connections/{crm.id}/revocation", headers=bearer(key))
        assert refused.status_code == 403
        assert billing.user_id not in refused.text


def signed(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    return body, {
        "content-type": "application/json",
        "x-contio-signature": contio.signature(WEBHOOK_SECRET, body),
    }


async def test_a_revocation_webhook_for_a_shared_account_does_not_cascade(
    http: httpx.AsyncClient, db: Database, clients: Clients, gateway: Gateway
) -> None:
    email = account()
    crm = await connected(http, db, clients.crm, email)
    billing = await connected(http, db, clients.billing, email)
    await http.delete(f"/v1/connections/{crm.id}", headers=bearer(clients.operator))
    user = gateway.sandbox.user_by_email(email)
    # The event a provider could send for the grant just revoked: it names the account.
    event = {
        "event_type": REVOKED,
        "event_id": f"evt_{uuid.uuid4().hex}",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "partner_app_id": "app_sandbox",
        "data": {"connection_id": str(gateway.sandbox.connection_id(user)), "revoked_at": "now"},
        "for_user": {"id": billing.subject, "email": email},
    }
    body, headers = signed(event)

    response = await http.post("/webhooks/contio", content=body, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ignored"}
    assert (await reload(db, billing.id)).status is ConnectionStatus.ACTIVE
    assert await proxies(http, clients.billing, billing)
    assert "connection.provider_revocation_not_applied" in await audit_actions(db, billing.id)

    # The provider really ends the account (the user revoked it there): its webhook ends the
    # grants the provider no longer honours.
    async with httpx.AsyncClient(base_url=gateway.sandbox_url, timeout=10) as sandbox:
        ended = await sandbox.post("/_sandbox/connections/revoke", json={"email": email})
    assert ended.json()["revoked_grants"] == 1

    async def billing_revoked() -> bool:
        return (await reload(db, billing.id)).status is ConnectionStatus.REVOKED

    await eventually(billing_revoked, "the provider's webhook to revoke the remaining connection")
    assert "connection.revoked_by_provider" in await audit_actions(db, billing.id)
