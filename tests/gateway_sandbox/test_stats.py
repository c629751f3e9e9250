"""Counters at /_sandbox/stats and ``store.stats()``."""

from __future__ import annotations

from tests.gateway_sandbox.driver import Sandbox


def test_counters_start_at_zero(sandbox: Sandbox) -> None:
    stats = sandbox.http.get("/_sandbox/stats").json()

    assert stats == sandbox.store.stats()
    assert set(stats.values()) == {0}
    assert {
        "refresh_calls",
        "refresh_successes",
        "reuse_detections",
        "revocations",
        "token_requests",
        "code_exchanges",
        "webhooks_sent",
    } <= set(stats)


def test_the_token_lifecycle_is_counted(sandbox: Sandbox) -> None:
    first = sandbox.tokens_for("ann@example.com")
    second = sandbox.refresh(first["refresh_token"]).json()
    sandbox.refresh(first["refresh_token"])  # reuse
    sandbox.http.post(
        "/oauth2/revoke", data={"token": second["refresh_token"]}, auth=sandbox.client_auth
    )

    stats = sandbox.http.get("/_sandbox/stats").json()

    assert stats["token_requests"] == 3
    assert stats["code_exchanges"] == 1
    assert stats["refresh_calls"] == 2
    assert stats["refresh_successes"] == 1
    assert stats["reuse_detections"] == 1
    assert stats["revocations"] == 1


def test_faulted_requests_are_counted_as_token_requests(sandbox: Sandbox) -> None:
    sandbox.http.post("/_sandbox/faults", json={"rate_limited": True})

    sandbox.refresh("cto_rt_v1_x")

    stats = sandbox.store.stats()
    assert stats["token_requests"] == 1
    assert stats["refresh_calls"] == 1
    assert stats["refresh_successes"] == 0


def test_stats_reset_zeroes_the_counters(sandbox: Sandbox) -> None:
    sandbox.refresh("cto_rt_v1_x")

    assert set(sandbox.http.post("/_sandbox/stats/reset").json().values()) == {0}
    assert set(sandbox.store.stats().values()) == {0}
