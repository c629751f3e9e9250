"""A gateway of its own for the timeline tests: its own database (the deliverer and retention work
on every committed row), the Contio sandbox, Contio webhooks configured, and two event endpoints on
the events tests' receiver (``/ok`` takes signed deliveries, ``/fail`` answers 500). Its event
signing secrets are left unset, so the gateway delivers nothing itself: the tests run the
``Deliverer``, with the receiver's secrets.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import URL

from gateway.app import create_app
from gateway.kit.db import Database
from gateway.settings import Settings
from gateway.webhooks import contio
from gateway_sandbox import SandboxOptions, create_sandbox_app
from tests.events.conftest import Receiver, receiver_app
from tests.fixtures.database import fresh_database
from tests.fixtures.servers import free_port, serving
from tests.fixtures.stack import gateway_settings
from tests.hostile.owner_fixtures import Client, make_client

WEBHOOK_SECRET = "contio-webhook-timeline"


@dataclass(frozen=True)
class TimelineStack:
    url: str
    sandbox_url: str
    settings: Settings


@dataclass(frozen=True)
class Clients:
    owner: Client  # unconfined; connects the users
    confined: Client  # lives in a space of its own
    operator: Client
    proxy_only: Client


@pytest.fixture(scope="module")
def timeline_database_url(server_url: URL) -> Iterator[URL]:
    with fresh_database(server_url, "gw_timeline") as url:
        yield url


@pytest.fixture(scope="module")
async def tdb(timeline_database_url: URL) -> AsyncIterator[Database]:
    database = Database(timeline_database_url, pool_size=2)
    yield database
    await database.dispose()


@pytest.fixture(scope="module")
def timeline_stack(timeline_database_url: URL) -> Iterator[TimelineStack]:
    port = free_port()
    options = SandboxOptions(
        redirect_uris=(f"http://127.0.0.1:{port}/oauth/callback",), auto_approve=True
    )
    with (
        serving(receiver_app(Receiver(url=""))) as receiver,
        serving(create_sandbox_app(options)) as sandbox,
    ):
        settings = gateway_settings(
            port,
            sandbox.url,
            contio_webhook_secrets=SecretStr(WEBHOOK_SECRET),
            event_endpoints=(f"{receiver.url}/ok", f"{receiver.url}/fail"),
        )
        with serving(create_app(settings, timeline_database_url), port=port) as gateway:
            yield TimelineStack(gateway.url, sandbox.url, settings)


@pytest.fixture
async def gw(timeline_stack: TimelineStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=timeline_stack.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
async def clients(tdb: Database) -> Clients:
    return Clients(
        owner=await make_client(tdb, ["connect", "proxy"]),
        confined=await make_client(tdb, ["connect", "proxy"], own_users_only=True),
        operator=await make_client(tdb, ["admin"]),
        proxy_only=await make_client(tdb, ["proxy"]),
    )


def signed_webhook(subject: str, event_type: str, data: dict[str, Any]) -> tuple[bytes, str]:
    """A Contio webhook for the user ``subject``: its body and its signature header."""
    body = json.dumps(
        {
            "event_type": event_type,
            "event_id": f"evt_{uuid.uuid4().hex}",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "partner_app_id": "app_sandbox",
            "data": data,
            "for_user": {"id": subject, "email": "someone@example.com"},
        }
    ).encode()
    return body, contio.signature(WEBHOOK_SECRET, body)
