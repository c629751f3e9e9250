"""Contio's events forwarded to internal services as ``provider.contio.<type>`` outbound events,
over real HTTP: the sandbox's own webhooks and envelopes signed by its signer, through the gateway,
to a receiver on the operator-wide endpoint that checks every signature."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest

from gateway.kit.clock import rfc3339
from gateway.models import Connection
from gateway.webhooks.catalogue import CONTIO_EVENT_TYPES
from gateway.webhooks.contio import parse_timestamp
from tests.webhooks.forwarding_fixtures import (
    Clients,
    Forwarding,
    about,
    connected,
    counters,
    deliveries_of,
    envelope,
    outbox_rows,
    post_body,
    post_signed,
    sample_data,
)

REVOKED = "user.connection.revoked"


@pytest.mark.parametrize("event_type", CONTIO_EVENT_TYPES)
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


async def test_a_nul_in_the_type_or_the_user_is_an_invalid_event(
    forwarding_http: httpx.AsyncClient, labelled: Connection
) -> None:
    bad_type = envelope("meeting.\x00updated", labelled.subject, {})
    bad_user = envelope("meeting.updated", "\x00", {})
    for event in (bad_type, bad_user):
        response = await post_body(forwarding_http, json.dumps(event).encode())
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_event"
