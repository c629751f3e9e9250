"""Routing in ``emit``: the operator-wide endpoints its caller names, plus one delivery per
subscription that admits the event; forwarded provider events; disabled subscriptions and clients."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from gateway.clients.store import ClientChanges, update_client
from gateway.events.outbox import emit
from gateway.events.routing import patterns_admitting
from gateway.kit.db import Database
from gateway.models import EventDelivery
from tests.events.subscription_fixtures import (
    Inbox,
    connect,
    deliveries_of,
    gw,
    inbox,
    loopback_stack,
    subscribe,
)
from tests.hostile.owner_fixtures import Clients, clients

__all__ = ["clients", "gw", "inbox", "loopback_stack"]  # fixtures

MEETING = "provider.contio.meeting.completed"
OPERATOR_ENDPOINT = "https://ops.example.com/events"


async def emitted(
    db: Database, event_type: str, data: dict[str, object], *, forwarded: bool = False
) -> list[EventDelivery]:
    """Emit one event with one operator-wide endpoint; its deliveries."""
    async with db.transaction() as session:
        event = await emit(session, [OPERATOR_ENDPOINT], event_type, data, forwarded=forwarded)
        found = await session.scalars(
            select(EventDelivery).where(EventDelivery.event_id == event.id)
        )
        return list(found)


def test_an_event_type_is_admitted_by_itself_any_and_each_dotted_prefix() -> None:
    assert patterns_admitting(MEETING) == [
        MEETING,
        "*",
        "provider.*",
        "provider.contio.*",
        "provider.contio.meeting.*",
    ]


async def test_operator_wide_endpoints_keep_their_delivery_beside_the_subscriptions(
    gw: httpx.AsyncClient, db: Database, clients: Clients, inbox: Inbox
) -> None:
    c = clients.open_
    box = inbox.box()
    subscription_id, _ = await subscribe(gw, c, box, ["provider.contio.*"])
    conn = await connect(gw, c, f"c-{uuid.uuid4().hex[:8]}", db)
    found = await emitted(db, MEETING, {"connection_id": conn}, forwarded=True)
    by_subscription = {d.subscription_id: d.endpoint for d in found}
    # Other tests' unconfined clients that subscribed to everything may use it too.
    assert by_subscription[None] == OPERATOR_ENDPOINT
    assert by_subscription[uuid.UUID(subscription_id)] == box


async def test_a_forwarded_event_about_no_connection_goes_to_operator_wide_endpoints_only(
    gw: httpx.AsyncClient, db: Database, clients: Clients, inbox: Inbox
) -> None:
    await subscribe(gw, clients.open_, inbox.box(), ["*"])
    found = await emitted(db, "provider.contio.workspace.updated", {"id": "w1"}, forwarded=True)
    assert [(d.endpoint, d.subscription_id) for d in found] == [(OPERATOR_ENDPOINT, None)]


@pytest.mark.parametrize(
    ("event_type", "forwarded"),
    [
        ("meeting.completed", True),
        ("provider.contio", True),
        ("provider.Contio.meeting.completed", True),
        ("provider.contio.meeting.completed", False),
        ("connection.unknown", False),
    ],
)
async def test_an_event_type_outside_the_rules_is_refused(
    db: Database, event_type: str, forwarded: bool
) -> None:
    with pytest.raises(ValueError, match="type"):
        await emitted(db, event_type, {}, forwarded=forwarded)


async def test_a_disabled_subscription_or_client_gets_no_delivery(
    gw: httpx.AsyncClient, db: Database, clients: Clients, inbox: Inbox
) -> None:
    c = clients.open_
    disabled_id, _ = await subscribe(gw, c, inbox.box(), ["*"], enabled=False)
    conn = await connect(gw, c, f"c-{uuid.uuid4().hex[:8]}", db)
    assert await deliveries_of(db, disabled_id) == []
    enabled_id, _ = await subscribe(gw, c, inbox.box(), ["*"])
    async with db.transaction() as session:
        await update_client(session, c.name, ClientChanges(disabled=True))
    await emitted(db, MEETING, {"connection_id": conn}, forwarded=True)
    assert await deliveries_of(db, enabled_id) == []
