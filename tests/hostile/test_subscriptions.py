"""Subscriptions attacked from the outside: one service against another's, over real HTTP.

A client sees and touches only its own subscriptions (another's answers 404 as if it did not
exist); only an operator subscribes for, or lists, another client; no answer but the creating or
rotating one carries a secret.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from gateway.kit.db import Database
from tests.events.subscription_fixtures import Inbox, gw, inbox, loopback_stack, subscribe
from tests.hostile.owner_fixtures import Clients, clients, error_code, make_client

__all__ = ["clients", "gw", "inbox", "loopback_stack"]  # fixtures


def other_clients_paths(subscription_id: str) -> list[tuple[str, str]]:
    base = f"/v1/subscriptions/{subscription_id}"
    return [
        ("GET", base),
        ("PATCH", base),
        ("DELETE", base),
        ("POST", f"{base}/secrets"),
        ("POST", f"{base}/ping"),
        ("GET", f"{base}/deliveries"),
        ("POST", f"{base}/deliveries/{uuid.uuid4()}/replay"),
    ]


async def test_a_client_cannot_see_or_touch_another_clients_subscription(
    gw: httpx.AsyncClient, clients: Clients, inbox: Inbox
) -> None:
    owner, others = clients.confined, (clients.patterned, clients.open_)
    subscription_id, _ = await subscribe(gw, owner, inbox.box(), ["*"])
    for intruder in others:
        for method, path in other_clients_paths(subscription_id):
            body = {"enabled": False} if method == "PATCH" else None
            response = await gw.request(method, path, json=body, headers=intruder.auth)
            assert response.status_code == 404, (method, path, response.text)
            assert error_code(response) == "subscription_not_found"
        listed = await gw.get("/v1/subscriptions", headers=intruder.auth)
        assert subscription_id not in {item["id"] for item in listed.json()["items"]}
        filtered = await gw.get(
            "/v1/subscriptions", params={"client_id": str(owner.id)}, headers=intruder.auth
        )
        assert filtered.json()["items"] == []
    mine = await gw.get(f"/v1/subscriptions/{subscription_id}", headers=owner.auth)
    assert mine.status_code == 200 and mine.json()["enabled"] is True


async def test_only_an_operator_subscribes_for_another_client(
    gw: httpx.AsyncClient, clients: Clients, inbox: Inbox
) -> None:
    target = clients.confined
    body = {"url": inbox.box(), "event_types": ["*"], "client_id": str(target.id)}
    refused = await gw.post("/v1/subscriptions", json=body, headers=clients.open_.auth)
    assert refused.status_code == 403, refused.text
    created = await gw.post("/v1/subscriptions", json=body, headers=clients.operator.auth)
    assert created.status_code == 201, created.text
    assert created.json()["client_id"] == str(target.id)
    seen = await gw.get(f"/v1/subscriptions/{created.json()['id']}", headers=target.auth)
    assert seen.status_code == 200
    listed = await gw.get(
        "/v1/subscriptions", params={"client_id": str(target.id)}, headers=clients.operator.auth
    )
    assert [item["id"] for item in listed.json()["items"]] == [created.json()["id"]]


async def test_no_answer_but_creation_and_rotation_shows_a_secret(
    gw: httpx.AsyncClient, clients: Clients, inbox: Inbox
) -> None:
    c = clients.open_
    subscription_id, secret = await subscribe(gw, c, inbox.box(), ["*"])
    base = f"/v1/subscriptions/{subscription_id}"
    for response in (
        await gw.get(base, headers=c.auth),
        await gw.get("/v1/subscriptions", headers=c.auth),
        await gw.patch(base, json={"event_types": ["connection.*"]}, headers=c.auth),
        await gw.get(f"{base}/deliveries", headers=c.auth),
    ):
        assert response.status_code == 200, response.text
        assert secret not in response.text and "whsec_" not in response.text


async def test_a_client_without_the_connect_scope_is_refused(
    gw: httpx.AsyncClient, db: Database, inbox: Inbox
) -> None:
    proxy_only = await make_client(db, ["proxy"])
    response = await gw.post(
        "/v1/subscriptions",
        json={"url": inbox.box(), "event_types": ["*"]},
        headers=proxy_only.auth,
    )
    assert response.status_code == 403
    assert (await gw.get("/v1/subscriptions")).status_code == 401


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"event_types": ["Connection.Created"]}, "invalid_event_types"),
        ({"event_types": ["connection.*.x"]}, "invalid_event_types"),
        ({"label_selector": ["team=sales!"]}, "invalid_label_selector"),
        ({"secret": "whsec_mine"}, "validation_error"),
    ],
)
async def test_a_malformed_subscription_is_refused_with_a_stable_code(
    gw: httpx.AsyncClient, clients: Clients, inbox: Inbox, body: dict[str, object], code: str
) -> None:
    response = await gw.post(
        "/v1/subscriptions",
        json={"url": inbox.box(), "event_types": ["*"], **body},
        headers=clients.open_.auth,
    )
    assert 400 <= response.status_code < 500, response.text
    assert error_code(response) == code


async def test_a_viewer_reads_any_clients_subscription_and_changes_none(
    gw: httpx.AsyncClient, db: Database, clients: Clients, inbox: Inbox
) -> None:
    subscription_id, secret = await subscribe(gw, clients.confined, inbox.box(), ["*"])
    base = f"/v1/subscriptions/{subscription_id}"
    viewer = await make_client(db, ["viewer"])
    support = await make_client(db, ["support"])
    operator = await make_client(db, ["operator"])
    for reader in (viewer, support):
        seen = await gw.get(base, headers=reader.auth)
        assert seen.status_code == 200 and secret not in seen.text
        assert (await gw.get(f"{base}/deliveries", headers=reader.auth)).status_code == 200
    for changer in (viewer, support):
        for method, path in (("PATCH", base), ("DELETE", base), ("POST", f"{base}/secrets")):
            body = {"enabled": False} if method == "PATCH" else None
            refused = await gw.request(method, path, json=body, headers=changer.auth)
            assert (refused.status_code, error_code(refused)) == (403, "role_required")
            assert refused.json()["error"]["details"]["required"] == "operator"
    changed = await gw.patch(base, json={"enabled": False}, headers=operator.auth)
    assert changed.status_code == 200 and changed.json()["enabled"] is False
