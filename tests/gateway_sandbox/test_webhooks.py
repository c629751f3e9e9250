"""Outbound ``user.connection.revoked`` webhooks, received by a real loopback server."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

from gateway_sandbox.state.partner_connections import partner_app_id
from tests.gateway_sandbox.conftest import SandboxFactory
from tests.gateway_sandbox.driver import Sandbox
from tests.gateway_sandbox.receiver import SECRET, Receiver, settled


def test_revoking_a_connection_posts_a_signed_envelope(hooked: Sandbox, receiver: Receiver) -> None:
    hooked.tokens_for("ann@example.com")
    (connection,) = hooked.admin("GET", "/connections").json()["items"]

    hooked.admin("DELETE", f"/connections/{connection['id']}")

    assert receiver.arrived.wait(5)
    headers, body = receiver.received[0]
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-contio-signature"], f"sha256={expected}")
    assert headers["x-contio-timestamp"].isdigit()
    event = json.loads(body)
    assert event["event_type"] == "user.connection.revoked"
    assert uuid.UUID(event["event_id"])
    assert event["timestamp"].endswith("Z")
    assert event["partner_app_id"] == str(partner_app_id("sandbox-client"))
    assert event["data"]["connection_id"] == connection["id"]
    assert event["data"]["revoked_at"].endswith("Z")
    assert event["for_user"] == {"id": connection["user_id"], "email": "ann@example.com"}


def test_revoke_user_sends_the_webhook_too(hooked: Sandbox, receiver: Receiver) -> None:
    hooked.tokens_for("ann@example.com")

    hooked.store.revoke_user("ann@example.com")

    assert receiver.arrived.wait(5)
    (delivery,) = settled(hooked)
    assert delivery["delivery_status"] == "delivered"
    assert delivery["http_status_code"] == 200
    assert delivery["retry_count"] == 0
    assert hooked.store.stats()["webhooks_sent"] == 1


def test_the_control_api_revocation_sends_the_webhook(hooked: Sandbox, receiver: Receiver) -> None:
    hooked.tokens_for("ann@example.com")

    response = hooked.http.post("/_sandbox/connections/revoke", json={"email": "ann@example.com"})

    assert response.json() == {"revoked_grants": 1}
    assert receiver.arrived.wait(5)


def test_nothing_is_sent_when_nothing_was_revoked(hooked: Sandbox) -> None:
    assert hooked.store.revoke_user("nobody@example.com") == 0
    assert hooked.admin("GET", "/webhook-deliveries").json()["total"] == 0


def test_a_failing_receiver_is_retried_until_it_succeeds(
    hooked: Sandbox, receiver: Receiver
) -> None:
    receiver.statuses.extend([500, 503])
    hooked.tokens_for("ann@example.com")

    hooked.store.revoke_user("ann@example.com")

    (delivery,) = settled(hooked)
    assert delivery["delivery_status"] == "delivered"
    assert delivery["retry_count"] == 2
    assert len(receiver.received) == 3
    assert hooked.store.stats()["webhooks_sent"] == 3


def test_a_delivery_is_abandoned_after_the_last_retry(hooked: Sandbox, receiver: Receiver) -> None:
    receiver.statuses.extend([500, 500, 500])
    hooked.tokens_for("ann@example.com")
    hooked.store.revoke_user("ann@example.com")

    (delivery,) = settled(hooked)

    assert delivery["delivery_status"] == "abandoned"
    assert delivery["http_status_code"] == 500
    assert delivery["error_message"]


def test_an_abandoned_delivery_can_be_retried(hooked: Sandbox, receiver: Receiver) -> None:
    receiver.statuses.extend([500, 500, 500])
    hooked.tokens_for("ann@example.com")
    hooked.store.revoke_user("ann@example.com")
    (delivery,) = settled(hooked)
    receiver.arrived.clear()

    response = hooked.admin("POST", f"/webhook-deliveries/{delivery['id']}/retry")

    assert response.status_code == 200
    assert response.json()["retry_scheduled"] is True
    assert receiver.arrived.wait(5)
    (again,) = settled(hooked)
    assert again["delivery_status"] == "delivered"
    assert again["retry_count"] == 3
    assert hooked.admin("GET", f"/webhook-deliveries/{delivery['id']}").json() == again


def test_an_unreachable_receiver_is_abandoned(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(webhook_url="http://127.0.0.1:9/hook", webhook_retry_delays=(0.01,))
    sandbox.tokens_for("ann@example.com")
    sandbox.store.revoke_user("ann@example.com")

    (delivery,) = settled(sandbox)

    assert delivery["delivery_status"] == "abandoned"
    assert delivery["http_status_code"] is None


def test_deliveries_are_filtered_by_status(hooked: Sandbox, receiver: Receiver) -> None:
    hooked.tokens_for("ann@example.com")
    hooked.store.revoke_user("ann@example.com")
    settled(hooked)

    assert hooked.admin("GET", "/webhook-deliveries", status="delivered").json()["total"] == 1
    assert hooked.admin("GET", "/webhook-deliveries", status="abandoned").json()["total"] == 0


def test_unknown_deliveries_are_404(sandbox: Sandbox) -> None:
    missing = uuid.uuid4()

    assert sandbox.admin("GET", f"/webhook-deliveries/{missing}").status_code == 404
    assert sandbox.admin("POST", f"/webhook-deliveries/{missing}/retry").status_code == 404
