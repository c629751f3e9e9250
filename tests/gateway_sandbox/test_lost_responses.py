"""The lose_response fault: a call executes, its answer is lost; an Idempotency-Key saves the retry."""

from __future__ import annotations

import httpx
import pytest

from gateway_sandbox.faults import Faults
from tests.gateway_sandbox.conftest import SandboxFactory
from tests.gateway_sandbox.driver import Sandbox

MEETINGS = "POST /v1/partner/user/meetings"


def executions(sandbox: Sandbox) -> int:
    counts: dict[str, int] = sandbox.http.get("/_sandbox/executions").json()
    return counts.get(MEETINGS, 0)


def test_a_dropped_answer_is_a_transport_error_but_the_call_ran(sandbox: Sandbox) -> None:
    writer = sandbox.writer()
    sandbox.http.post("/_sandbox/faults", json={"lose_response": "drop", "lose_next": 1})

    with pytest.raises(httpx.RemoteProtocolError):
        sandbox.call("POST", "/meetings", writer, {"title": "Lost"})

    assert executions(sandbox) == 1
    assert sandbox.api("/meetings", writer).json()["total"] == 31
    assert sandbox.store.stats()["responses_lost"] == 1


def test_a_502_answer_hides_a_call_that_ran(sandbox: Sandbox) -> None:
    writer = sandbox.writer()
    sandbox.http.post("/_sandbox/faults", json={"lose_response": "502", "lose_next": 1})

    response = sandbox.call("POST", "/meetings", writer, {"title": "Lost"})

    assert response.status_code == 502
    assert response.json()["code"] == "bad_gateway"
    assert set(response.json()) == {"code", "error", "message", "request_id"}
    assert executions(sandbox) == 1


def test_a_retry_with_the_same_key_gets_the_lost_answer_without_running_again(
    sandbox: Sandbox,
) -> None:
    writer = sandbox.writer()
    sandbox.http.post("/_sandbox/faults", json={"lose_response": "drop", "lose_next": 1})

    with pytest.raises(httpx.TransportError):
        sandbox.call("POST", "/meetings", writer, {"title": "Once"}, key="retry-me")
    retried = sandbox.call("POST", "/meetings", writer, {"title": "Once"}, key="retry-me")

    assert retried.status_code == 201
    assert retried.headers["idempotent-replayed"] == "true"
    assert executions(sandbox) == 1
    titles = [m["title"] for m in sandbox.api("/meetings", writer, limit="100").json()["items"]]
    assert titles.count("Once") == 1


def test_a_retry_without_a_key_runs_twice(sandbox: Sandbox) -> None:
    writer = sandbox.writer()
    sandbox.http.post("/_sandbox/faults", json={"lose_response": "502", "lose_next": 1})

    sandbox.call("POST", "/meetings", writer, {"title": "Twice"})
    sandbox.call("POST", "/meetings", writer, {"title": "Twice"})

    assert executions(sandbox) == 2


def test_lose_next_switches_itself_off(sandbox: Sandbox) -> None:
    writer = sandbox.writer()
    sandbox.http.post("/_sandbox/faults", json={"lose_response": "502", "lose_next": 2})

    statuses = [
        sandbox.call("POST", "/meetings", writer, {"title": "T"}).status_code for _ in range(3)
    ]

    assert statuses == [502, 502, 201]
    faults = sandbox.http.get("/_sandbox/faults").json()
    assert (faults["lose_response"], faults["lose_next"]) == ("", 0)


def test_reads_and_other_prefixes_are_untouched(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(faults=Faults(lose_response="502"))
    writer = sandbox.writer()  # the token endpoint is outside /v1/partner/

    assert sandbox.api("/profile", writer).status_code == 200
    assert sandbox.call("POST", "/meetings", writer, {"title": "T"}).status_code == 502


def test_the_prefix_selects_what_is_lost(sandbox: Sandbox) -> None:
    sandbox.http.post(
        "/_sandbox/faults", json={"lose_response": "502", "lose_next": 1, "lose_prefix": "/auth/"}
    )

    assert sandbox.initiate("new@example.com").status_code == 502
    assert sandbox.store.user_by_email("new@example.com") is not None  # provisioned all the same


@pytest.mark.parametrize(
    "body", [{"lose_response": "sometimes"}, {"lose_next": -1}, {"lose_prefix": 1}]
)
def test_bad_lost_response_settings_are_400(sandbox: Sandbox, body: dict[str, object]) -> None:
    assert sandbox.http.post("/_sandbox/faults", json=body).status_code == 400
