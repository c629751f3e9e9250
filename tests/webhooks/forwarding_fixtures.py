"""What the forwarding tests share: the stack they run on (built in conftest.py), a receiver of
signed events, and Contio envelopes signed by the sandbox's signer."""

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
from sqlalchemy.engine import URL
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.events import signing
from gateway.kit.db import Database
from gateway.settings import Settings
from gateway_sandbox.state.webhook_delivery import signature as contio_signature

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


async def post_signed(client: httpx.AsyncClient, event: dict[str, Any]) -> httpx.Response:
    """POST ``event`` to the gateway's webhook, signed by the sandbox's signer (as Contio signs)."""
    body = json.dumps(event, separators=(",", ":")).encode()
    headers = {
        "content-type": "application/json",
        "x-contio-signature": contio_signature(WEBHOOK_SECRET, body),
    }
    response = await client.post("/webhooks/contio", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return response
