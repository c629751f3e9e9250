"""A sandbox with one of everything to point the contract's paths at."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.gateway_sandbox.driver import Sandbox
from tests.gateway_sandbox.receiver import settled


@dataclass(frozen=True)
class World:
    """ann@example.com with every user API scope, her records, and the ids to fill paths with."""

    sandbox: Sandbox
    token: str
    ids: dict[str, str]

    def path(self, template: str) -> str:
        return template.format(**self.ids)


@pytest.fixture
def world(sandbox: Sandbox) -> World:
    """The world, without webhooks (cheaper): no deliveries, ``ids["delivery"]`` unset."""
    return _build(sandbox, with_deliveries=False)


@pytest.fixture
def hooked_world(hooked: Sandbox) -> World:
    """The world with webhooks to a receiver, its first four deliveries settled."""
    return _build(hooked, with_deliveries=True)


def _build(sandbox: Sandbox, with_deliveries: bool) -> World:
    token = sandbox.writer("ann@example.com")
    meeting = sandbox.call("POST", "/meetings", token, {"title": "Contract"}).json()
    m = meeting["id"]
    guest = {"email": "guest@example.org", "name": "Guest", "role": "VIEWER"}
    participant = sandbox.call("POST", f"/meetings/{m}/participants", token, guest).json()
    agenda_item = sandbox.call(
        "POST", f"/meetings/{m}/agenda-items", token, {"title": "a", "item_type": "DISCUSSION"}
    ).json()
    action_item = sandbox.call(
        "POST", "/action-items", token, {"meeting_id": m, "title": "t"}
    ).json()
    events = sandbox.api(
        "/calendar/events", token, start_date="2000-01-01", end_date="2100-01-01", limit="100"
    ).json()["items"]
    standalone = next(e for e in events if not e["linked_meetings"])
    linked = next(e for e in events if e["linked_meetings"])
    (connection,) = sandbox.admin("GET", "/connections").json()["items"]
    ids = {
        "meeting": m,
        "participant": participant["id"],
        "agenda_item": agenda_item["id"],
        "action_item": action_item["id"],
        "event": standalone["id"],
        "linked_event": linked["id"],
        "connection": connection["id"],
    }
    if with_deliveries:
        ids["delivery"] = settled(sandbox, 4)[0]["id"]
    return World(sandbox, token, ids)
