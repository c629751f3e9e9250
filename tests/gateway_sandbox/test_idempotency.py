"""Idempotency-Key on the partner API's mutating calls (reference §8)."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.gateway_sandbox.driver import FakeClock, Sandbox

MEETINGS = "POST /v1/partner/user/meetings"


@pytest.fixture
def writer(sandbox: Sandbox) -> str:
    return sandbox.writer()


def executions(sandbox: Sandbox, route: str = MEETINGS) -> int:
    counts: dict[str, int] = sandbox.http.get("/_sandbox/executions").json()
    return counts.get(route, 0)


def test_a_repeat_replays_the_first_answer_without_executing_again(
    sandbox: Sandbox, writer: str
) -> None:
    first = sandbox.call("POST", "/meetings", writer, {"title": "Once"}, key="k-1")
    again = sandbox.call("POST", "/meetings", writer, {"title": "Once"}, key="k-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert executions(sandbox) == 1
    assert sandbox.api("/meetings", writer).json()["total"] == 31
    assert sandbox.store.stats()["idempotent_replays"] == 1


def test_without_a_key_every_call_executes(sandbox: Sandbox, writer: str) -> None:
    sandbox.call("POST", "/meetings", writer, {"title": "Twice"})
    sandbox.call("POST", "/meetings", writer, {"title": "Twice"})

    assert executions(sandbox) == 2


def test_the_key_belongs_to_the_user_across_token_refreshes(sandbox: Sandbox) -> None:
    tokens = sandbox.tokens_for("ann@example.com", scope="openid meetings:write")
    fresh = sandbox.refresh(tokens["refresh_token"]).json()["access_token"]

    first = sandbox.call("POST", "/meetings", tokens["access_token"], {"title": "T"}, key="k")
    again = sandbox.call("POST", "/meetings", fresh, {"title": "T"}, key="k")

    assert again.json() == first.json()
    assert executions(sandbox) == 1


def test_another_user_with_the_same_key_is_a_new_request(sandbox: Sandbox) -> None:
    ann, bob = sandbox.writer("ann@example.com"), sandbox.writer("bob@example.com")

    first = sandbox.call("POST", "/meetings", ann, {"title": "T"}, key="shared")
    other = sandbox.call("POST", "/meetings", bob, {"title": "T"}, key="shared")

    assert other.json()["id"] != first.json()["id"]
    assert executions(sandbox) == 2


def test_the_same_key_with_another_body_is_422(sandbox: Sandbox, writer: str) -> None:
    sandbox.call("POST", "/meetings", writer, {"title": "A"}, key="k")

    response = sandbox.call("POST", "/meetings", writer, {"title": "B"}, key="k")

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert executions(sandbox) == 1


def test_a_key_is_forgotten_after_24_hours(sandbox: Sandbox, clock: FakeClock) -> None:
    sandbox.call("POST", "/meetings", sandbox.writer(), {"title": "T"}, key="k")
    clock.advance(24 * 3600)

    response = sandbox.call("POST", "/meetings", sandbox.writer(), {"title": "T"}, key="k")

    assert "idempotent-replayed" not in response.headers
    assert executions(sandbox) == 2


def test_a_key_is_remembered_until_then(sandbox: Sandbox, writer: str, clock: FakeClock) -> None:
    sandbox.call("POST", "/meetings", writer, {"title": "T"}, key="k")
    clock.advance(23 * 3600)

    response = sandbox.call("POST", "/meetings", writer, {"title": "T"}, key="k")

    assert response.headers["idempotent-replayed"] == "true"


def test_a_repeat_while_the_first_runs_is_409_with_retry_after(
    sandbox: Sandbox, writer: str
) -> None:
    sandbox.http.post("/_sandbox/faults", json={"latency_ms": 200})
    first: list[httpx.Response] = []
    worker = threading.Thread(
        target=lambda: first.append(
            sandbox.call("POST", "/meetings", writer, {"title": "T"}, key="k")
        )
    )
    worker.start()
    while sandbox.store.idempotency.in_flight() == 0:
        worker.join(0.005)

    response = sandbox.call("POST", "/meetings", writer, {"title": "T"}, key="k")

    worker.join()
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_use"
    assert response.headers["retry-after"] == "1"
    assert first[0].status_code == 201
    assert executions(sandbox) == 1


def test_a_refusal_is_replayed_too(sandbox: Sandbox, writer: str) -> None:
    first = sandbox.call("POST", "/meetings", writer, {"title": ""}, key="k")
    again = sandbox.call("POST", "/meetings", writer, {"title": ""}, key="k")

    assert (first.status_code, again.status_code) == (400, 400)
    assert again.headers["idempotent-replayed"] == "true"


def test_deletes_and_patches_are_idempotent_too(sandbox: Sandbox, writer: str) -> None:
    meeting = sandbox.api("/meetings", writer).json()["items"][0]
    item = sandbox.call(
        "POST", "/action-items", writer, {"meeting_id": meeting["id"], "title": "t"}
    ).json()

    first = sandbox.call("DELETE", f"/action-items/{item['id']}", writer, key="del")
    again = sandbox.call("DELETE", f"/action-items/{item['id']}", writer, key="del")

    assert (first.status_code, again.status_code) == (204, 204)
    assert again.headers["idempotent-replayed"] == "true"


def test_the_admin_api_takes_keys_too(sandbox: Sandbox) -> None:
    sandbox.tokens_for("ann@example.com")
    (connection,) = sandbox.admin("GET", "/connections").json()["items"]
    path = f"/v1/partner/admin/connections/{connection['id']}"
    headers = {"X-API-Key": "sandbox-admin-key", "Idempotency-Key": "revoke-ann"}

    first = sandbox.http.delete(path, headers=headers)
    again = sandbox.http.delete(path, headers=headers)

    assert (first.status_code, again.status_code) == (204, 204)
    assert again.headers["idempotent-replayed"] == "true"
    assert executions(sandbox, f"DELETE {path}") == 1


def test_the_key_is_ignored_on_reads(sandbox: Sandbox, writer: str) -> None:
    headers = {"Authorization": f"Bearer {writer}", "Idempotency-Key": "k"}

    sandbox.http.get("/v1/partner/user/profile", headers=headers)
    again = sandbox.http.get("/v1/partner/user/profile", headers=headers)

    assert "idempotent-replayed" not in again.headers


@pytest.mark.parametrize("key", ["x" * 256, "caf\u00e9", "tab\there"])
def test_an_unusable_key_is_400(sandbox: Sandbox, writer: str, key: str) -> None:
    response = sandbox.http.post(
        "/v1/partner/user/meetings",
        json={"title": "T"},
        headers=[
            (b"Authorization", f"Bearer {writer}".encode()),
            (b"Idempotency-Key", key.encode()),
        ],
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert executions(sandbox) == 0


def test_a_bad_token_with_a_key_is_still_401(sandbox: Sandbox) -> None:
    response = sandbox.call("POST", "/meetings", "cto_at_v1_nope", {"title": "T"}, key="k")

    assert response.status_code == 401
