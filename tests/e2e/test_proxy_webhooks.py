"""A change made through the gateway's proxy reaches the partner's webhook as Contio's event: the
sandbox publishes it for the user whose token the proxy injected."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import URL
from starlette.applications import Starlette
from starlette.routing import Route

from gateway.kit.db import Database
from tests.e2e.flows import connect_new_user
from tests.fixtures.servers import serving
from tests.fixtures.stack import Stack, new_client, running_stack
from tests.gateway_sandbox.receiver import SECRET, Receiver

ALLOW = ["POST /meetings", "PATCH /meetings/*"]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    with serving(Starlette(routes=[Route("/hook", found.hook, methods=["POST"])])) as server:
        found.url = f"{server.url}/hook"
        yield found


@pytest.fixture(scope="module")
def hooked_stack(database_url: URL, receiver: Receiver) -> Iterator[Stack]:
    sandbox = {"webhook_url": receiver.url, "webhook_secret": SECRET}
    with running_stack(database_url, sandbox=sandbox) as running:
        yield running


@pytest.fixture
async def gw(hooked_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hooked_stack.gateway.url, timeout=10) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def received(
    receiver: Receiver, event_type: str, meeting_id: str
) -> tuple[dict[str, Any], str, bytes]:
    """The event about ``meeting_id``, its signature and raw body, waited for up to a deadline."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for headers, body in list(receiver.received):
            event = json.loads(body)
            if event["event_type"] == event_type and event["data"]["meeting_id"] == meeting_id:
                return event, headers["x-contio-signature"], body
        time.sleep(0.02)
    raise AssertionError(f"no {event_type} for meeting {meeting_id} reached the receiver")


def signed(signature: str, body: bytes) -> bool:
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature, expected)


async def test_a_meeting_created_through_the_proxy_sends_meeting_created(
    gw: httpx.AsyncClient, db: Database, receiver: Receiver
) -> None:
    key = await new_client(db, ["connect", "proxy"], ALLOW)
    user_id = await connect_new_user(gw, key)

    created = await gw.post(
        f"/proxy/users/{user_id}/meetings", json={"title": "Kick-off"}, headers=bearer(key)
    )

    assert created.status_code == 201, created.text
    meeting = created.json()
    event, signature, body = received(receiver, "meeting.created", meeting["id"])
    assert signed(signature, body)
    assert event["for_user"]["email"] == f"{user_id}@example.com"
    assert event["actor_user_id"] == event["for_user"]["id"] == meeting["created_by_user_id"]
    assert event["data"]["title"] == "Kick-off"
    assert event["data"]["workspace_id"] == meeting["workspace_id"]


async def test_each_users_change_is_sent_for_that_user(
    gw: httpx.AsyncClient, db: Database, receiver: Receiver
) -> None:
    first_key = await new_client(db, ["connect", "proxy"], ALLOW)
    second_key = await new_client(db, ["connect", "proxy"], ALLOW)
    first = await connect_new_user(gw, first_key)
    second = await connect_new_user(gw, second_key)

    made = {}
    for user_id, key in ((first, first_key), (second, second_key)):
        response = await gw.post(
            f"/proxy/users/{user_id}/meetings", json={"title": user_id}, headers=bearer(key)
        )
        made[user_id] = response.json()["id"]
    renamed = await gw.patch(
        f"/proxy/users/{second}/meetings/{made[second]}",
        json={"title": "renamed"},
        headers=bearer(second_key),
    )

    assert renamed.status_code == 200, renamed.text
    for user_id, meeting_id in made.items():
        event, _, _ = received(receiver, "meeting.created", meeting_id)
        assert event["for_user"]["email"] == f"{user_id}@example.com"
    updated, signature, body = received(receiver, "meeting.updated", made[second])
    assert signed(signature, body)
    assert updated["for_user"]["email"] == f"{second}@example.com"
    assert updated["data"]["title"] == "renamed"
