"""Contio's webhook switches in the admin API: the event filter, on and off, held deliveries, the
auto-disable rule and turning the webhook on again (reference §5, §6)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.gateway_sandbox.conftest import SandboxFactory
from tests.gateway_sandbox.contract import documented as doc
from tests.gateway_sandbox.driver import FakeClock, Sandbox
from tests.gateway_sandbox.receiver import SECRET, Receiver, settled

ADMIN = {"X-API-Key": "sandbox-admin-key", "X-Client-ID": "sandbox-client"}
# Contio's spec names the paths without /app, its SDK with it: both are served.
FORMS = ["", "/app"]


def put(sandbox: Sandbox, path: str, body: Any) -> httpx.Response:
    return sandbox.http.put(f"/v1/partner/admin{path}", json=body, headers=ADMIN)


def emit(sandbox: Sandbox, event_type: str, email: str = "ann@example.com") -> dict[str, Any]:
    sandbox.store.sign_in(email)
    response = sandbox.http.post(
        "/_sandbox/events", json={"event_type": event_type, "email": email}
    )
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


def app(sandbox: Sandbox) -> dict[str, Any]:
    answer: dict[str, Any] = sandbox.http.get("/v1/partner/admin/app", headers=ADMIN).json()
    return answer


def until(check: Callable[[], bool], what: str, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_the_app_shows_the_webhook_on_and_unfiltered(hooked: Sandbox, receiver: Receiver) -> None:
    shown = app(hooked)

    assert shown["webhook_url"] == receiver.url
    assert shown["webhook_enabled"] is True
    assert shown["webhook_filter"] is None
    assert shown["client_id"] == "sandbox-client"
    assert set(shown) == doc.PARTNER_APP


@pytest.mark.parametrize("form", FORMS)
def test_an_include_filter_sends_only_the_listed_types(
    hooked: Sandbox, receiver: Receiver, form: str
) -> None:
    body = {"type": "include", "events": ["meeting.completed", "user.connection.revoked"]}
    response = put(hooked, f"{form}/webhook-filter", body)

    assert response.status_code == 200, response.text
    assert response.json()["webhook_filter"] == body
    assert emit(hooked, "meeting.created") == {"event": None, "delivery": None}
    assert emit(hooked, "meeting.completed")["event"]["event_type"] == "meeting.completed"
    (delivery,) = settled(hooked)
    assert delivery["event_type"] == "meeting.completed"
    assert [e["event_type"] for e in receiver.events()] == ["meeting.completed"]


def test_the_filter_applies_to_changes_made_through_the_user_api(
    hooked: Sandbox, receiver: Receiver
) -> None:
    put(hooked, "/webhook-filter", {"type": "include", "events": ["meeting.updated"]})
    writer = hooked.writer()

    meeting = hooked.call("POST", "/meetings", writer, {"title": "T"}).json()
    hooked.call("PATCH", f"/meetings/{meeting['id']}", writer, {"title": "U"})

    (delivery,) = settled(hooked)
    assert delivery["event_type"] == "meeting.updated"


def test_an_exclude_filter_sends_everything_else(hooked: Sandbox, receiver: Receiver) -> None:
    put(hooked, "/webhook-filter", {"type": "exclude", "events": ["meeting.created"]})

    assert emit(hooked, "meeting.created")["delivery"] is None
    assert emit(hooked, "meeting.updated")["delivery"] is not None
    (delivery,) = settled(hooked)
    assert delivery["event_type"] == "meeting.updated"


@pytest.mark.parametrize("form", FORMS)
def test_removing_the_filter_sends_every_type_again(hooked: Sandbox, form: str) -> None:
    put(hooked, "/webhook-filter", {"type": "include", "events": ["meeting.completed"]})

    response = hooked.http.delete(f"/v1/partner/admin{form}/webhook-filter", headers=ADMIN)

    assert response.status_code == 200
    assert response.json()["webhook_filter"] is None
    assert emit(hooked, "meeting.created")["delivery"] is not None
    settled(hooked)


def test_an_unknown_event_type_in_the_filter_is_refused_with_the_valid_ones(
    hooked: Sandbox,
) -> None:
    response = put(hooked, "/webhook-filter", {"type": "include", "events": ["meeting.exploded"]})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert "meeting.exploded" in body["error"]
    assert len(body["valid_event_types"]) == 35
    assert app(hooked)["webhook_filter"] is None


@pytest.mark.parametrize(
    "body",
    [{}, {"type": "sometimes", "events": []}, {"type": "include", "events": "meeting.created"}],
)
def test_a_malformed_filter_is_refused(hooked: Sandbox, body: dict[str, Any]) -> None:
    response = put(hooked, "/webhook-filter", body)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_the_webhook_switches_need_the_admin_key(hooked: Sandbox) -> None:
    for method, path in [
        ("GET", "/app"),
        ("PUT", "/webhook-filter"),
        ("DELETE", "/app/webhook-filter"),
        ("PUT", "/webhook-status"),
    ]:
        response = hooked.http.request(
            method, f"/v1/partner/admin{path}", json={"enabled": False}, headers={}
        )
        assert response.status_code == 401, path
    assert app(hooked)["webhook_enabled"] is True


@pytest.mark.parametrize("form", FORMS)
def test_while_the_webhook_is_off_events_are_held_as_pending(
    hooked: Sandbox, receiver: Receiver, form: str
) -> None:
    response = put(hooked, f"{form}/webhook-status", {"enabled": False})
    assert response.json()["webhook_enabled"] is False

    held = emit(hooked, "meeting.completed")

    assert held["delivery"]["status"] == "pending"
    pending = hooked.admin("GET", "/webhook-deliveries", status="pending").json()
    assert pending["total"] == 1
    assert receiver.received == []


@pytest.mark.parametrize("form", FORMS)
def test_turning_the_webhook_on_delivers_what_was_held(
    hooked: Sandbox, receiver: Receiver, form: str
) -> None:
    put(hooked, "/webhook-status", {"enabled": False})
    emit(hooked, "meeting.completed")
    emit(hooked, "action_item.completed")

    response = put(hooked, f"{form}/webhook-status", {"enabled": True})

    assert response.json()["webhook_enabled"] is True
    settled(hooked, 2)
    assert sorted(e["event_type"] for e in receiver.events()) == [
        "action_item.completed",
        "meeting.completed",
    ]


def test_turning_the_webhook_on_can_abandon_what_was_held(
    hooked: Sandbox, receiver: Receiver
) -> None:
    put(hooked, "/webhook-status", {"enabled": False})
    emit(hooked, "meeting.completed")

    put(hooked, "/webhook-status", {"enabled": True, "pending_disposition": "abandon"})

    (delivery,) = settled(hooked)
    assert delivery["delivery_status"] == "abandoned"
    assert receiver.received == []
    emit(hooked, "meeting.created")
    assert settled(hooked, 2)[-1]["delivery_status"] == "delivered"


def test_a_status_without_enabled_is_refused(hooked: Sandbox) -> None:
    response = put(hooked, "/webhook-status", {"pending_disposition": "deliver"})

    assert response.status_code == 400
    assert app(hooked)["webhook_enabled"] is True


def test_the_webhook_turns_itself_off_after_enough_abandoned_deliveries(
    start_sandbox: SandboxFactory, receiver: Receiver
) -> None:
    sandbox = start_sandbox(
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        webhook_retry_delays=(0.01,),
        webhook_disable_after_abandoned=2,
    )
    receiver.statuses.extend([500] * 4)
    emit(sandbox, "meeting.created")
    settled(sandbox, 1)
    assert app(sandbox)["webhook_enabled"] is True

    emit(sandbox, "meeting.updated")
    settled(sandbox, 2)

    assert app(sandbox)["webhook_enabled"] is False
    assert emit(sandbox, "meeting.completed")["delivery"]["status"] == "pending"
    assert len(receiver.received) == 4


def test_a_success_resets_the_count_of_abandoned_deliveries(
    start_sandbox: SandboxFactory, receiver: Receiver
) -> None:
    sandbox = start_sandbox(
        webhook_url=receiver.url, webhook_retry_delays=(), webhook_disable_after_abandoned=2
    )
    receiver.statuses.extend([500, 200, 500])
    for number, event_type in enumerate(
        ["meeting.created", "meeting.updated", "meeting.completed"]
    ):
        emit(sandbox, event_type)
        settled(sandbox, number + 1)

    assert app(sandbox)["webhook_enabled"] is True


def test_the_webhook_turns_itself_off_after_failing_for_over_72_hours(
    start_sandbox: SandboxFactory, receiver: Receiver, clock: FakeClock
) -> None:
    sandbox = start_sandbox(webhook_url=receiver.url, webhook_retry_delays=())
    receiver.statuses.extend([500, 500, 500])
    emit(sandbox, "meeting.created")
    settled(sandbox, 1)
    clock.advance(71 * 3600)
    emit(sandbox, "meeting.updated")
    settled(sandbox, 2)
    assert app(sandbox)["webhook_enabled"] is True

    clock.advance(2 * 3600)
    emit(sandbox, "meeting.completed")
    settled(sandbox, 3)

    assert app(sandbox)["webhook_enabled"] is False


def test_turning_an_auto_disabled_webhook_on_delivers_the_backlog(
    start_sandbox: SandboxFactory, receiver: Receiver
) -> None:
    sandbox = start_sandbox(
        webhook_url=receiver.url, webhook_retry_delays=(), webhook_disable_after_abandoned=1
    )
    receiver.statuses.append(503)
    emit(sandbox, "meeting.created")
    settled(sandbox, 1)
    until(lambda: app(sandbox)["webhook_enabled"] is False, "the webhook to turn off")
    emit(sandbox, "meeting.completed")

    put(sandbox, "/webhook-status", {"enabled": True, "pending_disposition": "deliver"})

    deliveries = settled(sandbox, 2)
    by_type = {d["event_type"]: d["delivery_status"] for d in deliveries}
    assert by_type == {"meeting.created": "abandoned", "meeting.completed": "delivered"}
    emit(sandbox, "meeting.updated")
    assert settled(sandbox, 3)[-1]["delivery_status"] == "delivered"
