"""A gateway that lets subscriptions point at loopback, receivers on loopback, and a deliverer.

The gateway and the sandbox are real servers; the tests run the deliverer themselves (the test
gateway runs no background jobs), with the gateway's key ring and the same loopback allowance.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import URL
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway import composition
from gateway.events.delivery import Deliverer
from gateway.kit.db import Database
from gateway.kit.egress import EgressPolicy
from gateway.models import EventDelivery
from tests.fixtures.servers import serving
from tests.fixtures.stack import Stack, running_stack
from tests.hostile.owner_fixtures import Client, account, connect_as, rows

LOOPBACK = EgressPolicy(allow_loopback=True)


@pytest.fixture(scope="module")
def loopback_stack(database_url: URL) -> Iterator[Stack]:
    """A stack whose gateway takes subscriptions to loopback receivers (the development setting)."""
    with running_stack(
        database_url, settings=lambda _: {"subscriptions_allow_loopback_http": True}
    ) as running:
        yield running


@pytest.fixture
async def gw(loopback_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=loopback_stack.gateway.url, timeout=10) as client:
        yield client


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Inbox:
    """What each path of the receiver got, in order."""

    url: str = ""
    by_path: dict[str, list[Received]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def box(self) -> str:
        """A fresh path of the receiver, for one subscription; its URL."""
        return f"{self.url}/hooks/{uuid.uuid4().hex[:12]}"

    def at(self, url: str) -> list[Received]:
        path = httpx.URL(url).path
        with self.lock:
            return list(self.by_path.get(path, []))

    def events(self, url: str, secret: str) -> list[tuple[str, str | None]]:
        """(type, connection_id) of each delivery at ``url``, each verified by ``standardwebhooks``
        with ``secret``; sorted, since deliveries are sent concurrently and may arrive in any
        order (created before revoked here, alphabetically)."""
        found = []
        for received in self.at(url):
            event = Webhook(secret).verify(received.body, received.headers)
            found.append((event["type"], event["data"].get("connection_id")))
        return sorted(found)


def receiver_app(inbox: Inbox) -> Starlette:
    async def hook(request: Request) -> Response:
        body = await request.body()
        with inbox.lock:
            inbox.by_path.setdefault(request.url.path, []).append(
                Received(dict(request.headers), body)
            )
        return Response(status_code=204)

    async def moved(request: Request) -> Response:
        await request.body()
        return RedirectResponse(f"/hooks/{request.path_params['name']}", status_code=302)

    return Starlette(
        routes=[
            Route("/hooks/{name}", hook, methods=["POST"]),
            Route("/moved/{name}", moved, methods=["POST"]),
        ]
    )


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    found = Inbox()
    with serving(receiver_app(found)) as server:
        found.url = server.url
        yield found


async def subscribe(
    http: httpx.AsyncClient, client: Client, url: str, event_types: list[str], **body: Any
) -> tuple[str, str]:
    """A subscription of ``client``'s made through the API; its id and first secret."""
    response = await http.post(
        "/v1/subscriptions",
        json={"url": url, "event_types": event_types, **body},
        headers=client.auth,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    return created["id"], created["secret"]


async def deliver_all(stack: Stack, db: Database, policy: EgressPolicy = LOOPBACK) -> None:
    """Run the deliverer until no subscription delivery is due."""
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        deliverer = Deliverer(
            db, http, (), keys=composition.key_ring(stack.settings), egress_policy=policy
        )
        while await deliverer.deliver_due():
            pass


async def deliveries_of(db: Database, subscription_id: str) -> list[EventDelivery]:
    async with db.transaction() as session:
        found = await session.scalars(
            select(EventDelivery)
            .where(EventDelivery.subscription_id == uuid.UUID(subscription_id))
            .execution_options(populate_existing=True)
        )
        return list(found)


async def connect(http: httpx.AsyncClient, client: Client, user_id: str, db: Database) -> str:
    """Connect ``user_id`` for ``client`` through the gateway and the sandbox; the connection id."""
    response = await connect_as(http, client, user_id, account())
    assert response.status_code == 200, response.text
    [connection] = [row for row in await rows(db, user_id) if row.owner_client_id == client.id]
    return str(connection.id)


async def revoke(http: httpx.AsyncClient, operator: Client, connection_id: str) -> None:
    """Revoke the connection as an operator (an admin-scope client)."""
    response = await http.delete(f"/v1/connections/{connection_id}", headers=operator.auth)
    assert response.status_code == 200, response.text
