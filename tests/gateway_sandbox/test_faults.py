"""Fault switches: set at start through ``SandboxOptions.faults`` or at runtime via /_sandbox/faults."""

from __future__ import annotations

import time

import pytest

from gateway_sandbox.faults import Faults
from tests.gateway_sandbox.conftest import SandboxFactory
from tests.gateway_sandbox.driver import Sandbox


def test_no_fault_is_on_by_default(sandbox: Sandbox) -> None:
    assert sandbox.http.get("/_sandbox/faults").json() == Faults().to_json()


def test_rate_limited_answers_429_with_retry_after_and_the_waf_body(
    start_sandbox: SandboxFactory,
) -> None:
    sandbox = start_sandbox(faults=Faults(rate_limited=True, retry_after=7))

    response = sandbox.token({"grant_type": "refresh_token", "refresh_token": "x"})

    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json() == {
        "error": "rate_limit_exceeded",
        "error_description": "Too many requests.",
    }


def test_token_endpoint_down_answers_503(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(faults=Faults(token_endpoint_down=True))

    response = sandbox.token({"grant_type": "refresh_token", "refresh_token": "x"})

    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"


def test_invalid_client_answers_401_even_with_good_credentials(
    start_sandbox: SandboxFactory,
) -> None:
    sandbox = start_sandbox(faults=Faults(invalid_client=True))

    response = sandbox.token({"grant_type": "refresh_token", "refresh_token": "x"})

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "www-authenticate" in response.headers


def test_a_faulted_refresh_does_not_rotate_the_token(sandbox: Sandbox) -> None:
    tokens = sandbox.tokens_for("ann@example.com")
    sandbox.http.post("/_sandbox/faults", json={"token_endpoint_down": True})

    assert sandbox.refresh(tokens["refresh_token"]).status_code == 503

    sandbox.http.delete("/_sandbox/faults")
    assert sandbox.refresh(tokens["refresh_token"]).status_code == 200


def test_faults_update_partially_at_runtime_and_reset(sandbox: Sandbox) -> None:
    sandbox.http.post("/_sandbox/faults", json={"rate_limited": True})
    shown = sandbox.http.post("/_sandbox/faults", json={"latency_ms": 5}).json()

    assert shown["rate_limited"] is True
    assert shown["latency_ms"] == 5
    assert sandbox.http.delete("/_sandbox/faults").json() == Faults().to_json()
    assert sandbox.token({"grant_type": "refresh_token", "refresh_token": "x"}).status_code == 400


def test_reset_returns_to_the_faults_the_sandbox_started_with(
    start_sandbox: SandboxFactory,
) -> None:
    sandbox = start_sandbox(faults=Faults(latency_ms=1))
    sandbox.http.post("/_sandbox/faults", json={"latency_ms": 0})

    assert sandbox.http.delete("/_sandbox/faults").json()["latency_ms"] == 1


@pytest.mark.parametrize(
    "body",
    [{"error_rate": 2}, {"latency_ms": -1}, {"rate_limited": "yes"}, {"explode": True}, [1]],
)
def test_bad_fault_updates_are_400(sandbox: Sandbox, body: object) -> None:
    response = sandbox.http.post("/_sandbox/faults", json=body)

    assert response.status_code == 400
    assert sandbox.http.get("/_sandbox/faults").json() == Faults().to_json()


def outcomes(sandbox: Sandbox, count: int) -> list[int]:
    data = {"grant_type": "refresh_token", "refresh_token": "x"}
    return [sandbox.token(data).status_code for _ in range(count)]


def test_error_rate_fails_a_seeded_share_of_token_requests(start_sandbox: SandboxFactory) -> None:
    first = outcomes(start_sandbox(faults=Faults(error_rate=0.5, seed=42)), 40)
    again = outcomes(start_sandbox(faults=Faults(error_rate=0.5, seed=42)), 40)

    assert first == again
    assert set(first) == {400, 503}


def test_error_rate_one_fails_every_request(sandbox: Sandbox) -> None:
    sandbox.http.post("/_sandbox/faults", json={"error_rate": 1})

    assert set(outcomes(sandbox, 5)) == {503}


def test_faults_leave_other_endpoints_alone(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(faults=Faults(token_endpoint_down=True, invalid_client=True))
    token = sandbox.store.issued_tokens()  # nothing issued yet; introspection still answers

    response = sandbox.http.post(
        "/oauth2/introspect", data={"token": "x"}, auth=sandbox.client_auth
    )

    assert token == []
    assert response.json() == {"active": False}


def test_latency_delays_the_token_endpoint_and_the_user_api(sandbox: Sandbox) -> None:
    sandbox.http.post("/_sandbox/faults", json={"latency_ms": 150})

    started = time.monotonic()
    sandbox.token({"grant_type": "refresh_token", "refresh_token": "x"})
    sandbox.api("/profile", None)
    elapsed = time.monotonic() - started

    assert elapsed >= 0.3


def test_latency_leaves_the_control_api_alone(sandbox: Sandbox) -> None:
    sandbox.http.post("/_sandbox/faults", json={"latency_ms": 2000})

    started = time.monotonic()
    sandbox.http.get("/_sandbox/faults")

    assert time.monotonic() - started < 1
