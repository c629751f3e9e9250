"""Error bodies (reference §7, §2.3): ``{code, error, message, request_id}`` on the partner API and
partner auth (``error`` equal to its deprecated duplicate ``message``; ``request_id`` the response's
``X-Request-Id``), OAuth's ``{error, error_description}`` at the token endpoint, the WAF's body on
429, and the documented codes for each failure."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gateway_sandbox.seed import ACME, GLOBEX
from tests.gateway_sandbox.contract import documented as doc
from tests.gateway_sandbox.contract.conftest import World

NOWHERE = "00000000-0000-4000-8000-000000000000"
Call = Callable[[World], httpx.Response]


def user(method: str, path: str, body: Any = None, token: str | None = "world") -> Call:
    def call(world: World) -> httpx.Response:
        bearer = world.token if token == "world" else token
        sent = body
        if isinstance(body, dict):
            sent = {k: world.path(v) if isinstance(v, str) else v for k, v in body.items()}
        return world.sandbox.call(method, world.path(path), bearer, sent)

    return call


def admin(method: str, path: str, key: str = "sandbox-admin-key") -> Call:
    return lambda world: world.sandbox.admin(method, world.path(path), key=key)


def initiate(**fields: Any) -> Call:
    return lambda world: world.sandbox.initiate(fields.pop("email", "x@example.com"), **fields)


def read_only(world: World) -> httpx.Response:
    token = world.sandbox.tokens_for("ann@example.com", scope="openid meetings:read")[
        "access_token"
    ]
    return world.sandbox.call("POST", "/meetings", token, {"title": "t"})


def wrong_code(world: World) -> httpx.Response:
    session = world.sandbox.initiate("x@example.com").json()["session"]
    code = world.sandbox.last_code("x@example.com")
    return world.sandbox.verify(
        "x@example.com", session, "000000" if code != "000000" else "111111"
    )


def reused_key(world: World) -> httpx.Response:
    world.sandbox.call("POST", "/meetings", world.token, {"title": "a"}, key="k")
    return world.sandbox.call("POST", "/meetings", world.token, {"title": "b"}, key="k")


def duplicate_participant(world: World) -> httpx.Response:
    guest = {"email": "guest@example.org", "name": "Guest", "role": "VIEWER"}
    return world.sandbox.call(
        "POST", world.path("/meetings/{meeting}/participants"), world.token, guest
    )


# (what goes wrong, the call, status, code)
FAILURES: list[tuple[str, Call, int, str]] = [
    ("no token", user("GET", "/meetings", token=None), 401, "unauthorized"),
    ("a bad token", user("GET", "/profile", token="cto_at_v1_x"), 401, "unauthorized"),
    ("a missing scope", read_only, 403, "forbidden"),
    ("an unknown meeting", user("GET", f"/meetings/{NOWHERE}"), 404, "not_found"),
    ("an unknown path", user("GET", "/nothing-here"), 404, "not_found"),
    ("a wrong method", user("DELETE", "/meetings"), 405, "method_not_allowed"),
    ("a bad limit", user("GET", "/meetings?limit=500"), 400, "invalid_query_parameters"),
    ("a bad meeting id", user("GET", "/meetings/nope"), 400, "invalid_meeting_id"),
    ("a bad start_date", user("GET", "/meetings?start_date=x"), 400, "invalid_start_date"),
    ("a bad end_date", user("GET", "/meetings?end_date=x"), 400, "invalid_end_date"),
    ("no calendar range", user("GET", "/calendar/events"), 400, "missing_start_date"),
    ("a bad event id", user("GET", "/calendar/events/x"), 400, "invalid_calendar_event_id"),
    ("a bad action item id", user("GET", "/action-items/x"), 400, "invalid_action_item_id"),
    ("a body that is no object", user("POST", "/meetings", [1]), 400, "invalid_request_body"),
    ("a missing title", user("POST", "/meetings", {}), 400, "invalid_request"),
    (
        "a bad start_time",
        user("POST", "/meetings", {"title": "t", "start_time": "x"}),
        400,
        "invalid_start_time",
    ),
    (
        "a bad end_time",
        user(
            "POST",
            "/meetings",
            {"title": "t", "start_time": "2026-01-01T10:00:00Z", "end_time": "x"},
        ),
        400,
        "invalid_end_time",
    ),
    (
        "an inverted range",
        user(
            "POST",
            "/meetings",
            {
                "title": "t",
                "start_time": "2026-01-01T10:00:00Z",
                "end_time": "2026-01-01T09:00:00Z",
            },
        ),
        400,
        "invalid_time_range",
    ),
    (
        "a bad due_date",
        user("POST", "/action-items", {"meeting_id": "{meeting}", "title": "t", "due_date": "x"}),
        400,
        "invalid_due_date",
    ),
    (
        "a bad status",
        user("POST", "/action-items", {"meeting_id": "{meeting}", "title": "t", "status": "x"}),
        400,
        "invalid_status",
    ),
    ("a participant twice", duplicate_participant, 409, "resource_already_exists"),
    ("a reused idempotency key", reused_key, 422, "idempotency_key_reused"),
    ("no admin key", admin("GET", "/connections", key=""), 401, "unauthorized"),
    ("an unknown connection", admin("GET", f"/connections/{NOWHERE}"), 404, "not_found"),
    ("an unknown delivery", admin("GET", f"/webhook-deliveries/{NOWHERE}"), 404, "not_found"),
    ("an unknown workspace", initiate(workspace_id=NOWHERE), 404, "workspace_not_found"),
    (
        "another partner's workspace",
        initiate(workspace_id=str(GLOBEX.id)),
        403,
        "workspace_not_authorized",
    ),
    (
        "a user of another workspace",
        initiate(email="demo@example.com", workspace_id=str(ACME.id)),
        409,
        "workspace_conflict",
    ),
    ("a malformed initiate", initiate(workspace_id="x"), 400, "invalid_request"),
    ("a wrong one-time code", wrong_code, 400, "invalid_code"),
]
EXTRAS = {
    "workspace_conflict": {"workspace_id"},
    "invalid_code": {"reason", "attempts_remaining"},
}


@pytest.mark.parametrize(
    ("status", "code", "call"), [(s, c, f) for _, f, s, c in FAILURES], ids=[f[0] for f in FAILURES]
)
def test_failures_answer_the_documented_status_code_and_body(
    world: World, status: int, code: str, call: Call
) -> None:
    response = call(world)

    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == doc.ERROR | EXTRAS.get(code, set())
    assert body["code"] == code
    assert body["error"] == body["message"] and body["error"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert uuid.UUID(body["request_id"])


def test_a_refused_token_names_the_bearer_challenge(world: World) -> None:
    response = world.sandbox.api("/profile", None)

    assert response.headers["www-authenticate"].startswith("Bearer ")


def test_the_token_endpoint_answers_oauth_errors(world: World) -> None:
    response = world.sandbox.refresh("cto_rt_v1_unknown")

    assert response.status_code == 400
    body = response.json()
    assert set(body) >= doc.OAUTH_ERROR
    assert body["error"] == "invalid_grant"
    assert response.headers["cache-control"] == "no-store"


def test_rate_limiting_answers_the_wafs_body(world: World) -> None:
    world.sandbox.http.post("/_sandbox/faults", json={"rate_limited": True, "retry_after": 3})

    response = world.sandbox.refresh("cto_rt_v1_x")

    assert response.status_code == 429
    assert response.json() == doc.RATE_LIMITED
    assert response.headers["retry-after"] == "3"
