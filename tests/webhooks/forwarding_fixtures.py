"""What the forwarding tests share: the stack they run on (built in conftest.py), a receiver of
signed events, Contio envelopes signed by the sandbox's signer, and reading what became of them."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.engine import URL
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.events import signing
from gateway.kit.db import Database
from gateway.models import Connection, EventDelivery, OutboxEvent, UnmatchedEvent
from gateway.settings import Settings
from gateway_sandbox.state.webhook_delivery import signature as contio_signature
from tests.e2e.flows import connect, load_connection
from tests.hostile.owner_fixtures import Client

WEBHOOK_SECRET = "forwarding-webhook-secret"
SIGNING_SECRET = "whsec_" + "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="  # 32 x "B"
DEADLINE = 10.0


@dataclass(frozen=True)
class Delivered:
    webhook_id: str
    type: str
    data: dict[str, Any]


@dataclass
class Receiver:
    """Keeps every delivery whose Standard Webhooks signature verifies; counts the others."""

    url: str = ""
    delivered: list[Delivered] = field(default_factory=list)
    rejected: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def matching(self, wanted: Callable[[Delivered], bool]) -> list[Delivered]:
        with self.lock:
            return [event for event in self.delivered if wanted(event)]

    async def wait_for(
        self, wanted: Callable[[Delivered], bool], count: int = 1
    ) -> list[Delivered]:
        """The deliveries ``wanted`` picks, once there are ``count`` of them (before a deadline)."""
        deadline = time.monotonic() + DEADLINE
        while len(found := self.matching(wanted)) < count:
            assert time.monotonic() < deadline, f"{len(found)} of {count} deliveries arrived"
            await asyncio.sleep(0.05)
        return found


def receiver_app(receiver: Receiver) -> Starlette:
    async def receive(request: Request) -> Response:
        body = await request.body()
        try:
            signing.verify((SIGNING_SECRET,), request.headers, body)
        except signing.SignatureError:
            with receiver.lock:
                receiver.rejected += 1
            return Response(status_code=400)
        document = json.loads(body)
        with receiver.lock:
            receiver.delivered.append(
                Delivered(request.headers["webhook-id"], document["type"], document["data"])
            )
        return Response(status_code=204)

    return Starlette(routes=[Route("/events", receive, methods=["POST"])])


@dataclass(frozen=True)
class Forwarding:
    url: str  # forwards to the operator-wide endpoint
    url_off: str  # does not
    settings: Settings
    database_url: URL
    db: Database
    receiver: Receiver
    sandbox_app: Starlette

    @property
    def sandbox(self) -> Any:
        return self.sandbox_app.state.sandbox


def envelope(event_type: str, subject: str | None, data: dict[str, Any]) -> dict[str, Any]:
    """A Contio envelope as the sandbox writes one (``for_user`` left out for partner events)."""
    document: dict[str, Any] = {
        "event_type": event_type,
        "event_id": str(uuid.uuid4()),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "partner_app_id": str(uuid.uuid4()),
        "data": data,
    }
    if subject is not None:
        document["for_user"] = {"id": subject, "email": f"{subject}@example.com"}
    return document


async def post_body(client: httpx.AsyncClient, body: bytes) -> httpx.Response:
    """POST ``body`` to the gateway's webhook, signed by the sandbox's signer (as Contio signs)."""
    headers = {
        "content-type": "application/json",
        "x-contio-signature": contio_signature(WEBHOOK_SECRET, body),
    }
    return await client.post("/webhooks/contio", content=body, headers=headers)


async def post_signed(client: httpx.AsyncClient, event: dict[str, Any]) -> httpx.Response:
    """POST ``event``, signed; it must be taken (200)."""
    response = await post_body(client, json.dumps(event, separators=(",", ":")).encode())
    assert response.status_code == 200, response.text
    return response


@dataclass(frozen=True)
class Clients:
    crm: Client  # unconfined
    billing: Client  # confined to its own users
    operator: Client  # admin scope


async def connected(
    forwarding: Forwarding, http: httpx.AsyncClient, key: str, email: str | None = None
) -> Connection:
    """A fresh user id connected by the client of ``key`` (to the sandbox account of ``email``)."""
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    email = email or f"{user_id}@example.com"
    response = await connect(http, key, user_id, login_hint=email)
    assert response.status_code == 200, response.text
    return await load_connection(forwarding.db, user_id)


def about(event_id: str) -> Callable[[Delivered], bool]:
    """Picks the deliveries of the forwarded event ``event_id``."""
    return lambda delivered: delivered.data.get("event", {}).get("id") == event_id


def sample_data(event_type: str) -> dict[str, Any]:
    family = event_type.split(".")[0]
    return {"id": str(uuid.uuid4()), "family": family, "title": f"A {family} for the test"}


async def outbox_rows(forwarding: Forwarding, event_id: str) -> list[OutboxEvent]:
    async with forwarding.db.transaction() as session:
        found = await session.scalars(
            select(OutboxEvent).where(OutboxEvent.data["event"]["id"].astext == event_id)
        )
        return list(found.all())


async def deliveries_of(forwarding: Forwarding, event: OutboxEvent) -> int:
    async with forwarding.db.transaction() as session:
        count = await session.scalar(select(func.count()).where(EventDelivery.event_id == event.id))
    return int(count or 0)


async def kept(forwarding: Forwarding, event_id: str) -> bool:
    async with forwarding.db.transaction() as session:
        found = await session.scalar(
            select(UnmatchedEvent.id).where(UnmatchedEvent.event_id == event_id)
        )
    return found is not None


def counters(text: str) -> dict[str, float]:
    """``gateway_provider_webhooks_total`` by outcome, and ``gateway_forwarded_events_total``."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("gateway_provider_webhooks_total{"):
            outcome = line.split('outcome="')[1].split('"')[0]
            found[outcome] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("gateway_forwarded_events_total{"):
            found["events"] = float(line.rsplit(" ", 1)[1])
    return found
