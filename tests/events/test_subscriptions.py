"""Subscriptions over real HTTP: each service client receives exactly the events about connections
it may use, filtered by type patterns and labels, signed so that ``standardwebhooks`` verifies them.

A is confined to its own users, D too; B is unconfined for user ids ``b-…``; C is unconfined for
anyone. The gateway and the Contio sandbox are real servers on loopback, and so are the receivers.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gateway.kit.db import Database
from gateway.kit.egress import EgressPolicy
from tests.events.subscription_fixtures import (
    Inbox,
    connect,
    deliver_all,
    deliveries_of,
    gw,
    inbox,
    loopback_stack,
    revoke,
    subscribe,
)
from tests.fixtures.stack import Stack
from tests.hostile.owner_fixtures import Client, Clients, b_user, clients, make_client

__all__ = ["clients", "gw", "inbox", "loopback_stack"]  # fixtures

CONNECTION_EVENTS = ["connection.*"]


async def test_each_client_receives_exactly_the_events_of_the_connections_it_may_use(
    gw: httpx.AsyncClient, loopback_stack: Stack, db: Database, clients: Clients, inbox: Inbox
) -> None:
    a, b, c = clients.confined, clients.patterned, clients.open_
    boxes = {client.name: inbox.box() for client in (a, b, c)}
    secrets = {
        client.name: (await subscribe(gw, client, boxes[client.name], CONNECTION_EVENTS))[1]
        for client in (a, b, c)
    }
    a_conn = await connect(gw, a, f"a-{uuid.uuid4().hex[:8]}", db)
    b_conn = await connect(gw, b, b_user(), db)
    c_conn = await connect(gw, c, f"c-{uuid.uuid4().hex[:8]}", db)
    await revoke(gw, clients.operator, a_conn)
    await deliver_all(loopback_stack, db)

    def got(client: Client) -> list[tuple[str, str | None]]:
        return inbox.events(boxes[client.name], secrets[client.name])

    assert got(a) == [("connection.created", a_conn), ("connection.revoked", a_conn)]
    # B's pattern admits only b- users of the shared space; C, unconfined for anyone, sees them all.
    assert got(b) == [("connection.created", b_conn)]
    assert sorted(got(c)) == sorted(
        [("connection.created", b_conn), ("connection.created", c_conn)]
    )


async def test_a_confined_client_never_receives_another_confined_clients_events_for_the_same_user(
    gw: httpx.AsyncClient, loopback_stack: Stack, db: Database, clients: Clients, inbox: Inbox
) -> None:
    a = clients.confined
    d = await make_client(db, ["connect", "proxy"], own_users_only=True)
    user_id = f"u-{uuid.uuid4().hex[:8]}"
    a_box, d_box = inbox.box(), inbox.box()
    _, a_secret = await subscribe(gw, a, a_box, ["*"])
    _, d_secret = await subscribe(gw, d, d_box, ["*"])
    a_conn = await connect(gw, a, user_id, db)
    d_conn = await connect(gw, d, user_id, db)
    assert a_conn != d_conn
    await deliver_all(loopback_stack, db)
    assert inbox.events(a_box, a_secret) == [("connection.created", a_conn)]
    assert inbox.events(d_box, d_secret) == [("connection.created", d_conn)]


async def test_type_patterns_pick_exact_types_and_prefixes(
    gw: httpx.AsyncClient, loopback_stack: Stack, db: Database, clients: Clients, inbox: Inbox
) -> None:
    c = clients.open_
    exact, prefix, other = inbox.box(), inbox.box(), inbox.box()
    _, exact_secret = await subscribe(gw, c, exact, ["connection.revoked"])
    _, prefix_secret = await subscribe(gw, c, prefix, ["connection.*"])
    await subscribe(gw, c, other, ["provider.contio.*", "connection.needs_reauth"])
    conn = await connect(gw, c, f"c-{uuid.uuid4().hex[:8]}", db)
    await revoke(gw, clients.operator, conn)
    await deliver_all(loopback_stack, db)
    assert inbox.events(exact, exact_secret) == [("connection.revoked", conn)]
    assert inbox.events(prefix, prefix_secret) == [
        ("connection.created", conn),
        ("connection.revoked", conn),
    ]
    assert inbox.at(other) == []


async def test_a_label_selector_admits_only_connections_whose_labels_hold_it(
    gw: httpx.AsyncClient, loopback_stack: Stack, db: Database, clients: Clients, inbox: Inbox
) -> None:
    c = clients.open_
    sales, any_team, ops = inbox.box(), inbox.box(), inbox.box()
    _, sales_secret = await subscribe(gw, c, sales, ["*"], label_selector=["team=sales"])
    _, team_secret = await subscribe(gw, c, any_team, ["*"], label_selector=["team"])
    await subscribe(gw, c, ops, ["*"], label_selector=["team=ops"])
    conn = await connect(gw, c, f"c-{uuid.uuid4().hex[:8]}", db)  # no labels yet: no event
    labelled = await gw.patch(
        f"/v1/connections/{conn}", json={"labels": {"team": "sales"}}, headers=c.auth
    )
    assert labelled.status_code == 200, labelled.text
    await revoke(gw, clients.operator, conn)
    await deliver_all(loopback_stack, db)
    assert inbox.events(sales, sales_secret) == [("connection.revoked", conn)]
    assert inbox.events(any_team, team_secret) == [("connection.revoked", conn)]
    assert inbox.at(ops) == []


async def test_a_rotated_secret_keeps_signing_through_the_overlap_and_then_stops(
    gw: httpx.AsyncClient, clients: Clients, inbox: Inbox
) -> None:
    c = clients.open_
    box = inbox.box()
    subscription_id, first = await subscribe(gw, c, box, ["*"])
    rotated = await gw.post(
        f"/v1/subscriptions/{subscription_id}/secrets",
        json={"overlap_seconds": 3600},
        headers=c.auth,
    )
    assert rotated.status_code == 201, rotated.text
    second = rotated.json()["secret"]
    assert second != first and len(rotated.json()["secrets"]) == 2
    ping = await gw.post(f"/v1/subscriptions/{subscription_id}/ping", headers=c.auth)
    assert ping.json()["delivered"] is True, ping.text
    [overlapping] = inbox.at(box)
    assert len(overlapping.headers["webhook-signature"].split(" ")) == 2
    for secret in (first, second):
        assert (
            Webhook(secret).verify(overlapping.body, overlapping.headers)["type"] == "gateway.ping"
        )

    third = await gw.post(
        f"/v1/subscriptions/{subscription_id}/secrets",
        json={"overlap_seconds": 0},
        headers=c.auth,
    )
    assert third.status_code == 201, third.text
    await gw.post(f"/v1/subscriptions/{subscription_id}/ping", headers=c.auth)
    latest = inbox.at(box)[-1]
    Webhook(third.json()["secret"]).verify(latest.body, latest.headers)
    for expired in (first, second):
        with pytest.raises(WebhookVerificationError):
            Webhook(expired).verify(latest.body, latest.headers)


async def test_ping_delivers_a_test_event_now_and_reports_how_it_went(
    gw: httpx.AsyncClient, clients: Clients, inbox: Inbox
) -> None:
    c = clients.open_
    box = inbox.box()
    subscription_id, secret = await subscribe(gw, c, box, ["connection.created"])
    answer = await gw.post(f"/v1/subscriptions/{subscription_id}/ping", headers=c.auth)
    assert answer.status_code == 200, answer.text
    assert answer.json()["delivered"] is True and answer.json()["error"] is None
    [(event_type, _)] = inbox.events(box, secret)
    assert event_type == "gateway.ping"
    log = await gw.get(f"/v1/subscriptions/{subscription_id}/deliveries", headers=c.auth)
    [entry] = log.json()["items"]
    assert entry["event_type"] == "gateway.ping" and entry["state"] == "delivered"


async def test_a_redirect_is_not_followed(
    gw: httpx.AsyncClient, clients: Clients, inbox: Inbox
) -> None:
    c = clients.open_
    name = uuid.uuid4().hex[:12]
    subscription_id, _ = await subscribe(gw, c, f"{inbox.url}/moved/{name}", ["*"])
    answer = await gw.post(f"/v1/subscriptions/{subscription_id}/ping", headers=c.auth)
    assert answer.json() | {"delivery_id": None, "event_id": None} == {
        "delivery_id": None,
        "event_id": None,
        "delivered": False,
        "error": "HTTP 302",
    }
    assert inbox.at(f"{inbox.url}/hooks/{name}") == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://localhost/hook", "address_not_allowed"),
        ("https://127.0.0.1/hook", "address_not_allowed"),
        ("https://10.0.0.5/hook", "address_not_allowed"),
        ("https://169.254.169.254/latest/meta-data/", "address_not_allowed"),
        ("https://[fe80::1]/hook", "address_not_allowed"),
        ("http://127.0.0.1:9/hook", "url_scheme_not_allowed"),
        ("https://user:secret@example.com/hook", "url_invalid"),
    ],
)
async def test_the_defaults_refuse_a_private_or_loopback_url_at_registration(
    http: httpx.AsyncClient, clients: Clients, url: str, reason: str
) -> None:
    response = await http.post(
        "/v1/subscriptions",
        json={"url": url, "event_types": ["*"]},
        headers=clients.open_.auth,
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "subscription_url_not_allowed"
    assert error["details"]["reason"] == reason
    assert "secret" not in response.text


async def test_a_host_that_resolves_to_loopback_is_refused_again_at_delivery(
    gw: httpx.AsyncClient, loopback_stack: Stack, db: Database, clients: Clients, inbox: Inbox
) -> None:
    c = clients.open_
    port = httpx.URL(inbox.url).port
    url = f"https://localhost:{port}/hooks/{uuid.uuid4().hex[:12]}"
    subscription_id, _ = await subscribe(gw, c, url, ["connection.*"])
    await connect(gw, c, f"c-{uuid.uuid4().hex[:8]}", db)
    await deliver_all(loopback_stack, db, EgressPolicy())
    [delivery] = await deliveries_of(db, subscription_id)
    assert delivery.delivered_at is None
    assert delivery.last_error == "refused: address_not_allowed"
    assert inbox.at(url) == []
