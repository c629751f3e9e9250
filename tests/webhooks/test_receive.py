"""``POST /webhooks/contio`` against a running gateway with webhook secrets, over real HTTP."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.engine import URL

from gateway.app import create_app
from gateway.kit.db import Database
from gateway.models import AuditEvent, Connection, ConnectionStatus, OutboxEvent
from gateway.webhooks import contio
from gateway_sandbox import SandboxOptions, create_sandbox_app
from tests.e2e.flows import connect_new_user
from tests.e2e.flows import load_connection as load
from tests.fixtures.servers import ServerThread, free_port
from tests.fixtures.stack import gateway_settings, new_client

NEW_SECRET, OLD_SECRET = "contio-webhook-new", "contio-webhook-old"


@pytest.fixture(scope="module")
def webhook_gateway(database_url: URL) -> Iterator[str]:
    port = free_port()
    sandbox = ServerThread(
        create_sandbox_app(
            SandboxOptions(
                redirect_uris=(f"http://127.0.0.1:{port}/oauth/callback",), auto_approve=True
            )
        )
    ).start()
    settings = gateway_settings(
        port, sandbox.url, contio_webhook_secrets=SecretStr(f"{NEW_SECRET},{OLD_SECRET}")
    )
    gateway = ServerThread(create_app(settings, database_url), port=port).start()
    try:
        yield gateway.url
    finally:
        gateway.stop()
        sandbox.stop()


@pytest.fixture
async def gw(webhook_gateway: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=webhook_gateway, timeout=10) as client:
        yield client


@pytest.fixture
async def connection(gw: httpx.AsyncClient, db: Database) -> Connection:
    """A connection made through the sandbox; its subject is the user's Contio id."""
    key = await new_client(db, ["connect"])
    return await load(db, await connect_new_user(gw, key))


def envelope(subject: str = "nobody", **overrides: Any) -> dict[str, Any]:
    return {
        "event_type": "user.connection.revoked",
        "event_id": f"evt_{uuid.uuid4().hex}",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "partner_app_id": "app_sandbox",
        "data": {"connection_id": str(uuid.uuid4())},
        "for_user": {"id": subject, "email": "someone@example.com"},
        **overrides,
    }


async def post(
    client: httpx.AsyncClient, event: dict[str, Any] | bytes, secret: str | None = NEW_SECRET
) -> httpx.Response:
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["x-contio-signature"] = contio.signature(secret, body)
    return await client.post("/webhooks/contio", content=body, headers=headers)


async def test_a_signed_revocation_revokes_the_connection(
    gw: httpx.AsyncClient, db: Database, connection: Connection
) -> None:
    event = envelope(connection.subject)
    response = await post(gw, event)
    assert response.status_code == 200
    assert response.json() == {"status": "processed"}
    after = await load(db, connection.user_id)
    assert after.status is ConnectionStatus.REVOKED
    # Revoked like any revocation: ciphertexts erased, as a token write (compare-and-swap version).
    assert (after.access_token, after.refresh_token, after.token_version) == (
        None,
        None,
        connection.token_version + 1,
    )


async def test_a_revocation_is_audited_and_announced(
    gw: httpx.AsyncClient, db: Database, connection: Connection
) -> None:
    event = envelope(connection.subject)
    await post(gw, event)
    async with db.transaction() as session:
        audit = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.connection_id == connection.id,
                AuditEvent.action == "connection.revoked_by_provider",
            )
        )
        announced = (
            await session.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.type == "connection.revoked",
                    OutboxEvent.data["connection_id"].astext == str(connection.id),
                )
            )
        ).all()
    assert audit is not None
    assert (audit.actor, audit.action) == ("provider:contio", "connection.revoked_by_provider")
    assert audit.details == {"event_id": event["event_id"], "labels": {}}
    assert [e.data for e in announced] == [
        {
            "connection_id": str(connection.id),
            "user_id": connection.user_id,
            "provider": "contio",
            "status": "revoked",
            "reason": "revoked_by_provider",
            "external_ids": [],
            "labels": {},
        }
    ]


async def test_for_user_inside_data_is_accepted_too(
    gw: httpx.AsyncClient, connection: Connection
) -> None:
    event = envelope(data={"for_user": {"id": connection.subject}})
    del event["for_user"]
    assert (await post(gw, event)).json() == {"status": "processed"}


async def test_a_revocation_matches_on_contios_connection_id_when_we_know_it(
    gw: httpx.AsyncClient, db: Database, connection: Connection
) -> None:
    contio_id = str(uuid.uuid4())
    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == connection.id)
            .values(provider_connection_id=contio_id)
        )
    # No user in the envelope at all: the connection id alone finds it.
    event = envelope(data={"connection_id": contio_id})
    del event["for_user"]
    assert (await post(gw, event)).json() == {"status": "processed"}
    assert (await load(db, connection.user_id)).status is ConnectionStatus.REVOKED


async def test_the_previous_secret_still_verifies_during_a_rotation(
    gw: httpx.AsyncClient, db: Database, connection: Connection
) -> None:
    response = await post(gw, envelope(connection.subject), secret=OLD_SECRET)
    assert response.json() == {"status": "processed"}


async def test_a_bad_signature_is_refused_and_changes_nothing(
    gw: httpx.AsyncClient, db: Database, connection: Connection
) -> None:
    response = await post(gw, envelope(connection.subject), secret="not-the-secret")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert response.headers["gateway-error"] == "1"
    assert (await load(db, connection.user_id)).status is ConnectionStatus.ACTIVE


async def test_a_missing_signature_is_refused(gw: httpx.AsyncClient) -> None:
    response = await post(gw, envelope(), secret=None)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"


async def test_a_stale_event_is_refused(
    gw: httpx.AsyncClient, db: Database, connection: Connection
) -> None:
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 601))
    response = await post(gw, envelope(connection.subject, timestamp=old))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "stale_event"
    assert (await load(db, connection.user_id)).status is ConnectionStatus.ACTIVE


async def test_an_event_from_the_future_is_refused(gw: httpx.AsyncClient) -> None:
    response = await post(gw, envelope(timestamp=int(time.time()) + 601))
    assert response.json()["error"]["code"] == "stale_event"


async def test_a_replayed_event_is_a_duplicate(
    gw: httpx.AsyncClient, connection: Connection
) -> None:
    event = envelope(connection.subject)
    assert (await post(gw, event)).json() == {"status": "processed"}
    replayed = await post(gw, event)
    assert replayed.status_code == 200
    assert replayed.json() == {"status": "duplicate"}


async def test_another_event_type_is_ignored(
    gw: httpx.AsyncClient, db: Database, connection: Connection
) -> None:
    response = await post(gw, envelope(connection.subject, event_type="meeting.created"))
    assert response.json() == {"status": "ignored"}
    assert (await load(db, connection.user_id)).status is ConnectionStatus.ACTIVE


async def test_a_revocation_for_an_unknown_user_is_ignored(gw: httpx.AsyncClient) -> None:
    response = await post(gw, envelope(f"contio-{uuid.uuid4()}"))
    assert response.json() == {"status": "ignored"}


@pytest.mark.parametrize("missing", ["event_type", "event_id", "timestamp", "partner_app_id"])
async def test_an_envelope_without_a_field_is_invalid(gw: httpx.AsyncClient, missing: str) -> None:
    event = envelope()
    del event[missing]
    response = await post(gw, event)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_event"


async def test_a_signed_body_that_is_not_json_is_invalid(gw: httpx.AsyncClient) -> None:
    response = await post(gw, b"not json")
    assert response.json()["error"]["code"] == "invalid_event"


async def test_a_body_over_one_mebibyte_is_refused(gw: httpx.AsyncClient) -> None:
    response = await post(gw, b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_without_webhook_secrets_the_endpoint_is_unavailable(
    http: httpx.AsyncClient,
) -> None:
    response = await post(http, envelope())
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "webhooks_not_configured"
