"""Contio's events forwarded to internal services as ``provider.contio.<type>`` outbound events,
over real HTTP: the sandbox's own webhooks and envelopes signed by its signer, through the gateway,
to a receiver on the operator-wide endpoint that checks every signature."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from gateway import retention
from gateway.cli import cli
from gateway.kit.clock import rfc3339, utcnow
from gateway.models import Connection, EventDelivery, OutboxEvent, UnmatchedEvent
from gateway.webhooks.contio import parse_timestamp
from tests.e2e.flows import connect, load_connection
from tests.fixtures.stack import cli_environment
from tests.hostile.owner_fixtures import Client, make_client
from tests.webhooks.forwarding_fixtures import (
    WEBHOOK_SECRET,
    Forwarding,
    contio_signature,
    envelope,
    post_signed,
)

REVOKED = "user.connection.revoked"
# Contio's catalogue (AsyncAPI v1.10.0): every type its webhooks carry.
CATALOGUE = (
    "action_button.triggered",
    "action_item.created",
    "action_item.updated",
    "action_item.completed",
    "agenda_item.created",
    "agenda_item.updated",
    "agenda_item.deleted",
    "automation.assignment.created",
    "calendar_event.created",
    "calendar_event.updated",
    "calendar_event.deleted",
    "canvas_template.applied",
    "meeting.created",
    "meeting.updated",
    "meeting.completed",
    "meeting.context.created",
    "meeting.context.deleted",
    "meeting.context.processed",
    "meeting_template.applied",
    "next_step.completed",
    "participant.added",
    "participant.removed",
    "partner.idp.domain_verified",
    "partner.idp.domain_verification_failed",
    "partner.idp.domain_revoked",
    "session.turn.completed",
    "session.turn.failed",
    "session.expired",
    REVOKED,
    "workflow.run.started",
    "workflow.run.completed",
    "workflow.run.failed",
    "workflow.step.completed",
    "workflow.task.created",
    "workflow.task.resolved",
)


@dataclass(frozen=True)
class Clients:
    crm: Client  # unconfined
    billing: Client  # confined to its own users
    operator: Client  # admin scope


@pytest.fixture(scope="module")
async def clients(forwarding: Forwarding) -> Clients:
    service, allow = ["connect", "proxy"], ["GET /**", "POST /**"]
    return Clients(
        crm=await make_client(forwarding.db, service, allow),
        billing=await make_client(forwarding.db, service, allow, own_users_only=True),
        operator=await make_client(forwarding.db, ["admin"]),
    )


async def connected(
    forwarding: Forwarding, http: httpx.AsyncClient, key: str, email: str | None = None
) -> Connection:
    """A fresh user id connected by the client of ``key`` (to the sandbox account of ``email``)."""
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    email = email or f"{user_id}@example.com"
    response = await connect(http, key, user_id, login_hint=email)
    assert response.status_code == 200, response.text
    return await load_connection(forwarding.db, user_id)


@pytest.fixture(scope="module")
async def labelled(forwarding: Forwarding, clients: Clients) -> Connection:
    """A connection of the unconfined client with labels and an external id."""
    async with httpx.AsyncClient(base_url=forwarding.url, timeout=10) as http:
        connection = await connected(forwarding, http, clients.crm.key)
        patched = await http.patch(
            f"/v1/connections/{connection.id}",
            json={"labels": {"team": "sales"}, "external_ids": ["crm-42"]},
            headers=clients.operator.auth,
        )
        assert patched.status_code == 200, patched.text
    return connection


def about(event_id: str) -> Any:
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


@pytest.mark.parametrize("event_type", CATALOGUE)
async def test_each_contio_event_type_is_forwarded_with_its_shape(
    event_type: str,
    forwarding_http: httpx.AsyncClient,
    forwarding: Forwarding,
    clients: Clients,
    labelled: Connection,
) -> None:
    # A revocation ends the connection it is for: it gets one of its own.
    connection = (
        await connected(forwarding, forwarding_http, clients.crm.key)
        if event_type == REVOKED
        else labelled
    )
    data = sample_data(event_type)
    event = envelope(event_type, connection.subject, data)
    await post_signed(forwarding_http, event)
    [delivered] = await forwarding.receiver.wait_for(about(event["event_id"]))
    assert delivered.type == f"provider.contio.{event_type}"
    assert delivered.data == {
        "connection_id": str(connection.id),
        "user_id": connection.user_id,
        "provider": "contio",
        "external_ids": ["crm-42"] if connection is labelled else [],
        "labels": {"team": "sales"} if connection is labelled else {},
        "event": {
            "id": event["event_id"],
            "type": event_type,
            "timestamp": rfc3339(parse_timestamp(event["timestamp"])),
            "data": data,
        },
    }
    assert "email" not in json.dumps(delivered.data)  # Contio's for_user is not passed on


async def test_a_revocation_keeps_its_effect_and_is_forwarded(
    forwarding_http: httpx.AsyncClient,
    forwarding: Forwarding,
    clients: Clients,
) -> None:
    connection = await connected(forwarding, forwarding_http, clients.crm.key)
    event = envelope(REVOKED, connection.subject, {"connection_id": str(uuid.uuid4())})
    assert (await post_signed(forwarding_http, event)).json() == {"status": "processed"}
    revoked = await forwarding.receiver.wait_for(
        lambda d: d.type == "connection.revoked" and d.data["connection_id"] == str(connection.id)
    )
    forwarded = await forwarding.receiver.wait_for(about(event["event_id"]))
    assert revoked[0].data["status"] == "revoked"
    assert [d.data["connection_id"] for d in forwarded] == [str(connection.id)]


async def test_a_meeting_created_through_the_proxy_reaches_every_connection_of_the_account(
    forwarding_http: httpx.AsyncClient,
    forwarding: Forwarding,
    clients: Clients,
) -> None:
    email = f"shared-{uuid.uuid4().hex[:8]}@example.com"
    crm = await connected(forwarding, forwarding_http, clients.crm.key, email)
    billing = await connected(forwarding, forwarding_http, clients.billing.key, email)
    assert crm.subject == billing.subject and crm.id != billing.id

    created = await forwarding_http.post(
        f"/proxy/users/{crm.user_id}/meetings",
        json={"title": "Quarterly review"},
        headers=clients.crm.auth,
    )
    assert created.status_code == 201, created.text
    meeting_id = created.json()["id"]

    # The sandbox's own signed webhook, through the gateway: one event per connection.
    forwarded = await forwarding.receiver.wait_for(
        lambda d: (
            d.type == "provider.contio.meeting.created"
            and d.data["event"]["data"].get("meeting_id") == meeting_id
        ),
        count=2,
    )
    assert sorted((d.data["connection_id"], d.data["user_id"]) for d in forwarded) == sorted(
        [(str(crm.id), crm.user_id), (str(billing.id), billing.user_id)]
    )
    assert len({d.webhook_id for d in forwarded}) == 2
    assert forwarded[0].data["event"]["data"]["title"] == "Quarterly review"


async def test_a_duplicate_from_contio_is_forwarded_once(
    forwarding_http: httpx.AsyncClient,
    forwarding: Forwarding,
    labelled: Connection,
) -> None:
    event = envelope("action_item.completed", labelled.subject, sample_data("action_item"))
    assert (await post_signed(forwarding_http, event)).json() == {"status": "ignored"}
    assert (await post_signed(forwarding_http, event)).json() == {"status": "duplicate"}
    # Concurrent redeliveries too: one of them takes the event id, the others wait and see it.
    again = await asyncio.gather(*(post_signed(forwarding_http, event) for _ in range(3)))
    assert [response.json() for response in again] == [{"status": "duplicate"}] * 3
    await forwarding.receiver.wait_for(about(event["event_id"]))
    assert len(await outbox_rows(forwarding, event["event_id"])) == 1


async def test_a_partner_level_event_goes_to_the_operator_wide_endpoint_only(
    forwarding_http: httpx.AsyncClient,
    forwarding: Forwarding,
) -> None:
    data = {"domain": "example.com", "status": "verified"}
    event = envelope("partner.idp.domain_verified", None, data)
    await post_signed(forwarding_http, event)
    [delivered] = await forwarding.receiver.wait_for(about(event["event_id"]))
    assert delivered.type == "provider.contio.partner.idp.domain_verified"
    assert delivered.data == {
        "provider": "contio",
        "event": {
            "id": event["event_id"],
            "type": "partner.idp.domain_verified",
            "timestamp": rfc3339(parse_timestamp(event["timestamp"])),
            "data": data,
        },
    }
    [row] = await outbox_rows(forwarding, event["event_id"])
    assert row.connection_id is None  # about no connection: no subscription gets it


async def test_with_forwarding_off_the_operator_wide_endpoint_gets_no_forwarded_event(
    forwarding: Forwarding,
    clients: Clients,
) -> None:
    async with httpx.AsyncClient(base_url=forwarding.url_off, timeout=10) as off:
        connection = await connected(forwarding, off, clients.crm.key)
        meeting = envelope("meeting.completed", connection.subject, sample_data("meeting"))
        partner = envelope("partner.idp.domain_revoked", None, {"domain": "example.org"})
        revocation = envelope(REVOKED, connection.subject, {})
        for event in (meeting, partner, revocation):
            await post_signed(off, event)
    # The gateway's own event still goes out; the forwarded ones are recorded and sent nowhere.
    await forwarding.receiver.wait_for(
        lambda d: d.type == "connection.revoked" and d.data["connection_id"] == str(connection.id)
    )
    for event in (meeting, partner, revocation):
        [row] = await outbox_rows(forwarding, event["event_id"])
        assert await deliveries_of(forwarding, row) == 0
        assert forwarding.receiver.matching(about(event["event_id"])) == []


async def test_an_event_for_a_user_no_connection_holds_is_kept_and_not_forwarded(
    forwarding_http: httpx.AsyncClient,
    forwarding: Forwarding,
    clients: Clients,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stranger = str(uuid.uuid4())
    data = {"meeting_id": str(uuid.uuid4()), "title": "Salary talk with Ann"}
    event = envelope("calendar_event.updated", stranger, data)
    assert (await post_signed(forwarding_http, event)).json() == {"status": "ignored"}
    assert await outbox_rows(forwarding, event["event_id"]) == []

    listed = await forwarding_http.get(
        "/v1/events/unmatched",
        params={"type": "calendar_event.updated", "limit": "200"},
        headers=clients.operator.auth,
    )
    assert listed.status_code == 200, listed.text
    [kept] = [item for item in listed.json()["items"] if item["event_id"] == event["event_id"]]
    assert kept == {
        "id": kept["id"],
        "provider": "contio",
        "event_id": event["event_id"],
        "event_type": "calendar_event.updated",
        "subject": stranger,
        "sent_at": rfc3339(parse_timestamp(event["timestamp"])),
        "received_at": kept["received_at"],
    }
    assert "Salary" not in listed.text and "@example.com" not in listed.text
    for client in (clients.crm, clients.billing):  # service clients, confined or not: not theirs
        refused = await forwarding_http.get("/v1/events/unmatched", headers=client.auth)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "insufficient_scope"
    assert (await forwarding_http.get("/v1/events/unmatched")).status_code == 401

    for name, value in cli_environment(forwarding.settings, forwarding.database_url).items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    args = ["events", "unmatched", "--type", "calendar_event.updated", "--json"]
    shown = await asyncio.to_thread(runner.invoke, cli, args)
    assert shown.exit_code == 0, shown.output
    assert [row["event_id"] for row in json.loads(shown.output)] == [
        item["event_id"] for item in listed.json()["items"]
    ]
    assert "Salary" not in shown.output
    opened = await asyncio.to_thread(runner.invoke, cli, [*args, "--show-data"])
    assert opened.exit_code == 0, opened.output
    assert json.loads(opened.output)[0]["data"] == data


async def test_the_unmatched_list_is_newest_first_and_paged(
    forwarding_http: httpx.AsyncClient,
    clients: Clients,
) -> None:
    events = [envelope("workflow.task.resolved", str(uuid.uuid4()), {}) for _ in range(3)]
    for event in events:
        await post_signed(forwarding_http, event)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"type": "workflow.task.resolved", "limit": "2"}
        if cursor is not None:
            params["cursor"] = cursor
        page = (
            await forwarding_http.get(
                "/v1/events/unmatched", params=params, headers=clients.operator.auth
            )
        ).json()
        seen += [item["event_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [event["event_id"] for event in reversed(events)]
    bad = await forwarding_http.get("/v1/events/unmatched?kind=x", headers=clients.operator.auth)
    assert bad.json()["error"]["code"] == "unknown_parameter"


async def test_unmatched_events_are_purged_after_their_retention(
    forwarding_http: httpx.AsyncClient,
    forwarding: Forwarding,
) -> None:
    event = envelope("session.expired", str(uuid.uuid4()), {})
    await post_signed(forwarding_http, event)
    days = forwarding.settings.unmatched_event_retention_days
    soon = await retention.prune(forwarding.db, forwarding.settings, utcnow())
    assert soon is not None
    assert await kept(forwarding, event["event_id"])
    later = utcnow() + timedelta(days=days, minutes=1)
    pruned = await retention.prune(forwarding.db, forwarding.settings, later)
    assert pruned is not None and pruned.unmatched_events >= 1
    assert not await kept(forwarding, event["event_id"])


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


async def test_forwarded_duplicate_and_unmatched_events_are_counted(
    forwarding_http: httpx.AsyncClient,
    labelled: Connection,
) -> None:
    before = counters((await forwarding_http.get("/metrics")).text)
    forwarded = envelope("agenda_item.created", labelled.subject, sample_data("agenda_item"))
    await post_signed(forwarding_http, forwarded)
    await post_signed(forwarding_http, forwarded)
    await post_signed(forwarding_http, envelope("agenda_item.deleted", str(uuid.uuid4()), {}))
    after = counters((await forwarding_http.get("/metrics")).text)
    assert {name: after[name] - before.get(name, 0) for name in after} == {
        "forwarded": 1,
        "duplicate": 1,
        "unmatched": 1,
        "events": 1,
    }
    # The run's figures for the closing note (shown with pytest -s).
    print(
        f"\nforwarding figures: {after['events']:.0f} events forwarded from "
        f"{after['forwarded']:.0f} webhooks, {after['duplicate']:.0f} duplicates suppressed, "
        f"{after['unmatched']:.0f} unmatched kept"
    )


async def test_a_nul_in_the_type_or_the_user_is_an_invalid_event(
    forwarding_http: httpx.AsyncClient, labelled: Connection
) -> None:
    bad_type = envelope("meeting.\x00updated", labelled.subject, {})
    bad_user = envelope("meeting.updated", "\x00", {})
    for event in (bad_type, bad_user):
        body = json.dumps(event).encode()
        response = await forwarding_http.post(
            "/webhooks/contio",
            content=body,
            headers={"x-contio-signature": contio_signature(WEBHOOK_SECRET, body)},
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_event"


async def test_data_an_outbound_event_cannot_carry_is_kept_not_forwarded(
    forwarding_http: httpx.AsyncClient, forwarding: Forwarding, labelled: Connection
) -> None:
    event = envelope("meeting.updated", labelled.subject, {"title": "a\x00b", "\x00": [1]})
    assert (await post_signed(forwarding_http, event)).json() == {"status": "ignored"}
    assert await kept(forwarding, event["event_id"])
    assert await outbox_rows(forwarding, event["event_id"]) == []
