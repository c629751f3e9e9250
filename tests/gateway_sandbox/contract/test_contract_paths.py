"""Every documented endpoint the sandbox serves answers at its path, with its status and shape.

One row per endpoint: method, path (reference §2-§5), body, the documented success status and the
fields the answer has. Lists are checked item by item.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway_sandbox.contract import documented as doc
from tests.gateway_sandbox.contract.conftest import World

U = "/v1/partner/user"
A = "/v1/partner/admin"
M = U + "/meetings/{meeting}"
RANGE = "?start_date=2000-01-01T00:00:00Z&end_date=2100-01-01T00:00:00Z"
GUEST = {"email": "other@example.org", "name": "Other", "role": "EDITOR"}

# (method, path, body, status, shape of the answer, shape of each listed item)
USER_API: list[tuple[str, str, Any, int, frozenset[str] | None, frozenset[str] | None]] = [
    ("GET", U + "/profile", None, 200, doc.PROFILE, None),
    ("GET", U + "/meetings", None, 200, doc.PAGE, doc.MEETING),
    ("POST", U + "/meetings", {"title": "New"}, 201, doc.MEETING, None),
    ("GET", M, None, 200, doc.MEETING, None),
    ("PATCH", M, {"title": "Renamed"}, 200, doc.MEETING, None),
    ("GET", M + "/participants", None, 200, doc.PAGE, doc.PARTICIPANT),
    ("POST", M + "/participants", GUEST, 201, doc.PARTICIPANT, None),
    ("DELETE", M + "/participants/{participant}", None, 204, None, None),
    ("GET", M + "/agenda-items", None, 200, doc.PAGE, doc.AGENDA_ITEM),
    ("POST", M + "/agenda-items", {"title": "b", "item_type": "BREAK"}, 201, doc.AGENDA_ITEM, None),
    (
        "PATCH",
        M + "/agenda-items/{agenda_item}",
        {"status": "completed"},
        200,
        doc.AGENDA_ITEM,
        None,
    ),
    ("PUT", M + "/agenda-items/{agenda_item}", {"title": "c"}, 200, doc.AGENDA_ITEM, None),
    ("DELETE", M + "/agenda-items/{agenda_item}", None, 204, None, None),
    ("GET", U + "/action-items", None, 200, doc.PAGE, doc.ACTION_ITEM),
    (
        "POST",
        U + "/action-items",
        {"meeting_id": "{meeting}", "title": "t"},
        201,
        doc.ACTION_ITEM,
        None,
    ),
    ("GET", U + "/action-items/{action_item}", None, 200, doc.ACTION_ITEM, None),
    (
        "PATCH",
        U + "/action-items/{action_item}",
        {"is_completed": True},
        200,
        doc.ACTION_ITEM,
        None,
    ),
    ("PUT", U + "/action-items/{action_item}", {"title": "u"}, 200, doc.ACTION_ITEM, None),
    ("DELETE", U + "/action-items/{action_item}", None, 204, None, None),
    ("GET", U + "/calendar/events" + RANGE, None, 200, doc.PAGE, doc.CALENDAR_EVENT),
    ("GET", U + "/calendar/events/{event}", None, 200, doc.CALENDAR_EVENT, None),
    ("POST", U + "/calendar/events/{event}/meeting", None, 201, doc.CREATED_FROM_EVENT, None),
    ("POST", U + "/calendar/events/{linked_event}/meeting", None, 200, doc.FOUND_FROM_EVENT, None),
]
ADMIN_API: list[tuple[str, str, int, frozenset[str] | None, frozenset[str] | None]] = [
    ("GET", A + "/connections", 200, doc.PAGE, doc.CONNECTION),
    ("GET", A + "/connections/{connection}", 200, doc.CONNECTION, None),
    ("DELETE", A + "/connections/{connection}", 204, None, None),
    ("GET", A + "/workspaces", 200, doc.PAGE, doc.WORKSPACE),
    ("GET", A + "/webhook-deliveries", 200, doc.DELIVERY_PAGE, doc.DELIVERY),
    ("GET", A + "/webhook-deliveries/{delivery}", 200, doc.DELIVERY, None),
    ("POST", A + "/webhook-deliveries/{delivery}/retry", 200, doc.RETRY, None),
    ("GET", A + "/app", 200, doc.PARTNER_APP, None),
    ("DELETE", A + "/webhook-filter", 200, doc.PARTNER_APP, None),
    ("DELETE", A + "/app/webhook-filter", 200, doc.PARTNER_APP, None),
]


def fill(world: World, body: Any) -> Any:
    if isinstance(body, dict):
        return {k: world.path(v) if isinstance(v, str) else v for k, v in body.items()}
    return body


def check_shape(answer: Any, shape: frozenset[str] | None, item: frozenset[str] | None) -> None:
    if shape is None:
        return
    assert set(answer) == shape
    listed = answer.get("items", answer.get("deliveries"))
    if item is not None:
        assert listed, "the list is empty: nothing to check"
        for entry in listed:
            assert set(entry) == item


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "shape", "item"),
    USER_API,
    ids=[f"{r[0]} {r[1]}" for r in USER_API],
)
def test_user_api(
    world: World,
    method: str,
    path: str,
    body: Any,
    status: int,
    shape: frozenset[str] | None,
    item: frozenset[str] | None,
) -> None:
    response = world.sandbox.http.request(
        method,
        world.path(path),
        json=fill(world, body),
        headers={"Authorization": f"Bearer {world.token}"},
    )

    assert response.status_code == status, response.text
    if status == 204:
        assert response.content == b""
    else:
        assert response.headers["content-type"] == "application/json"
        check_shape(response.json(), shape, item)


@pytest.mark.parametrize(
    ("method", "path", "status", "shape", "item"),
    ADMIN_API,
    ids=[f"{r[0]} {r[1]}" for r in ADMIN_API],
)
def test_admin_api(
    request: pytest.FixtureRequest,
    method: str,
    path: str,
    status: int,
    shape: frozenset[str] | None,
    item: frozenset[str] | None,
) -> None:
    hooks = "webhook-deliveries" in path
    world: World = request.getfixturevalue("hooked_world" if hooks else "world")
    response = world.sandbox.http.request(
        method,
        world.path(path),
        headers={"X-API-Key": "sandbox-admin-key", "X-Client-ID": "sandbox-client"},
    )

    assert response.status_code == status, response.text
    if status != 204:
        check_shape(response.json(), shape, item)


def test_provisioning_initiate_verify_consent_and_exchange(world: World) -> None:
    sandbox = world.sandbox
    auth = sandbox.client_auth
    base = {"client_id": "sandbox-client", "email": "contract@example.com"}

    initiated = sandbox.http.post("/auth/initiate", json=base, auth=auth)
    code = sandbox.last_code("contract@example.com")
    verified = sandbox.http.post(
        "/auth/verify",
        json={**base, "code": code, "session": initiated.json()["session"]},
        auth=auth,
    )
    checked = sandbox.http.post(
        "/oauth2/check-consent", json={**base, "scope": "openid"}, auth=auth
    )
    consented = sandbox.authorize_headless("contract@example.com")
    token = sandbox.exchange(consented.json()["code"])

    for response, shape in [
        (initiated, doc.INITIATE),
        (verified, doc.VERIFY),
        (checked, doc.CHECK_CONSENT),
        (consented, doc.AUTHORIZE),
        (token, doc.TOKEN),
    ]:
        assert response.status_code == 200, response.text
        assert set(response.json()) == shape
    assert initiated.json()["challenge_name"] == "CUSTOM_CHALLENGE"


def test_token_introspection_userinfo_and_revocation(world: World) -> None:
    sandbox = world.sandbox
    tokens = sandbox.tokens_for("ann@example.com")

    refreshed = sandbox.refresh(tokens["refresh_token"])
    introspected = sandbox.http.post(
        "/oauth2/introspect", data={"token": tokens["access_token"]}, auth=sandbox.client_auth
    )
    userinfo = sandbox.http.get(
        "/oauth2/userInfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    revoked = sandbox.http.post(
        "/oauth2/revoke", data={"token": "cto_rt_v1_unknown"}, auth=sandbox.client_auth
    )

    assert set(tokens) == doc.TOKEN
    assert tokens["access_token"].startswith("cto_at_v1_")
    assert tokens["refresh_token"].startswith("cto_rt_v1_")
    assert (tokens["token_type"], tokens["expires_in"]) == ("Bearer", 86400)
    assert set(refreshed.json()) - {"id_token"} == doc.TOKEN - {"id_token"}
    assert set(introspected.json()) == doc.INTROSPECTION
    assert set(userinfo.json()) == doc.USERINFO
    assert revoked.status_code == 200


def test_discovery_jwks_and_health(world: World) -> None:
    http = world.sandbox.http

    discovery = http.get("/.well-known/openid_configuration").json()
    jwks = http.get("/.well-known/jwks.json").json()
    health = http.get("/oauth2/health").json()

    assert set(discovery) >= doc.DISCOVERY
    assert jwks["keys"] and {"kty", "kid", "n", "e"} <= set(jwks["keys"][0])
    assert set(health) == doc.HEALTH
    assert (health["status"], health["service"]) == ("healthy", "partner-oauth")


def test_resources_carry_uuids_rfc3339_times_and_documented_enums(world: World) -> None:
    sandbox, token = world.sandbox, world.token

    meetings = sandbox.api("/meetings", token, limit="100").json()["items"]
    items = sandbox.api("/action-items", token, limit="100").json()["items"]
    profile = sandbox.api("/profile", token).json()

    for meeting in meetings:
        assert doc.is_uuid(meeting["id"]) and doc.is_uuid(meeting["workspace_id"])
        assert doc.is_rfc3339(meeting["created_at"]) and doc.is_rfc3339(meeting["updated_at"])
        assert meeting["start_time"] is None or doc.is_rfc3339(meeting["start_time"])
        assert meeting["status"] in doc.MEETING_STATUSES
    for item in items:
        assert doc.is_uuid(item["id"]) and doc.is_uuid(item["meeting_id"])
        assert item["status"] in doc.ACTION_ITEM_STATUSES
        assert item["due_date"] is None or len(item["due_date"]) == 10
    assert profile["workspace_role"] in doc.ROLES
