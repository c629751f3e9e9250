"""Contio's per-IP request limits per rolling 5-minute window (reference §7), off by default."""

from __future__ import annotations

import pytest

from gateway_sandbox.faults import Faults
from gateway_sandbox.waf import RateLimits
from tests.gateway_sandbox.conftest import SandboxFactory
from tests.gateway_sandbox.driver import FakeClock, Sandbox

SMALL = RateLimits(user_api=3, admin_api=2, auth=2)


@pytest.fixture
def limited(start_sandbox: SandboxFactory) -> Sandbox:
    return start_sandbox(rate_limits=SMALL, faults=Faults(enforce_rate_limits=True))


def test_the_documented_limits_are_the_defaults() -> None:
    assert RateLimits() == RateLimits(user_api=1000, admin_api=500, auth=100, window=300)


def test_limits_are_off_unless_switched_on(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(rate_limits=SMALL)

    statuses = {sandbox.api("/profile", None).status_code for _ in range(6)}

    assert statuses == {401}


def test_the_user_api_answers_429_past_its_limit(limited: Sandbox) -> None:
    statuses = [limited.api("/profile", None).status_code for _ in range(4)]

    response = limited.api("/profile", None)

    assert statuses == [401, 401, 401, 429]
    assert response.json() == {
        "error": "rate_limit_exceeded",
        "error_description": "Too many requests.",
    }
    assert response.headers["retry-after"] == "300"
    assert limited.store.stats()["rate_limited"] == 2


def test_retry_after_counts_down_as_the_window_rolls(limited: Sandbox, clock: FakeClock) -> None:
    limited.api("/profile", None)
    clock.advance(100)
    for _ in range(2):
        limited.api("/profile", None)

    assert limited.api("/profile", None).headers["retry-after"] == "200"
    clock.advance(200)
    assert limited.api("/profile", None).status_code == 401  # the first request left the window


def test_each_api_has_its_own_limit(limited: Sandbox) -> None:
    for _ in range(3):
        limited.api("/profile", None)

    assert limited.api("/profile", None).status_code == 429
    assert limited.admin("GET", "/workspaces").status_code == 200
    assert limited.admin("GET", "/workspaces").status_code == 200
    assert limited.admin("GET", "/workspaces").status_code == 429
    assert limited.http.post("/oauth2/introspect", data={"token": "x"}).status_code == 401
    assert limited.http.post("/auth/initiate", json={}).status_code == 400
    assert limited.http.post("/oauth2/token", data={}).status_code == 429


def test_discovery_and_the_control_api_are_never_limited(limited: Sandbox) -> None:
    statuses = {limited.http.get("/.well-known/jwks.json").status_code for _ in range(5)}
    statuses |= {limited.http.get("/_sandbox/stats").status_code for _ in range(5)}

    assert statuses == {200}


def test_limits_can_be_switched_at_runtime(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(rate_limits=SMALL)
    for _ in range(5):
        sandbox.api("/profile", None)

    sandbox.http.post("/_sandbox/faults", json={"enforce_rate_limits": True})
    statuses = [sandbox.api("/profile", None).status_code for _ in range(4)]

    assert statuses == [401, 401, 401, 429]  # counting began when the switch went on
    sandbox.http.delete("/_sandbox/faults")
    assert sandbox.api("/profile", None).status_code == 401


@pytest.mark.parametrize("limits", [{"user_api": 0}, {"window": 0}])
def test_unusable_limits_are_refused(limits: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimits(**limits)  # type: ignore[arg-type]
