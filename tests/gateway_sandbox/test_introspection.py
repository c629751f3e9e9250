from __future__ import annotations

from typing import Any

from tests.gateway_sandbox.driver import FakeClock, Sandbox


def introspect(sandbox: Sandbox, token: str) -> dict[str, Any]:
    response = sandbox.http.post(
        "/oauth2/introspect", data={"token": token}, auth=sandbox.client_auth
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_live_access_token_is_active_with_its_details(sandbox: Sandbox, clock: FakeClock) -> None:
    tokens = sandbox.tokens_for("ann@example.com", scope="openid meetings:read")
    user = sandbox.store.user_by_email("ann@example.com")
    assert user is not None

    info = introspect(sandbox, tokens["access_token"])

    assert info == {
        "active": True,
        "scope": "openid meetings:read",
        "client_id": "sandbox-client",
        "username": "ann@example.com",
        "sub": str(user.id),
        "exp": int(clock.now) + 86400,
        "iat": int(clock.now),
        "nbf": int(clock.now),
        "iss": sandbox.url,
        "aud": ["sandbox-client"],
        "token_type": "Bearer",
        "ext": {"connection_id": str(sandbox.store.connection_id(user))},
    }


def test_a_live_refresh_token_is_active(sandbox: Sandbox) -> None:
    tokens = sandbox.tokens_for("ann@example.com")

    info = introspect(sandbox, tokens["refresh_token"])

    assert info["active"] is True
    assert info["token_type"] == "refresh_token"


def test_an_expired_access_token_is_inactive(sandbox: Sandbox, clock: FakeClock) -> None:
    tokens = sandbox.tokens_for("ann@example.com")
    clock.advance(86400)

    assert introspect(sandbox, tokens["access_token"]) == {"active": False}


def test_a_revoked_access_token_is_inactive(sandbox: Sandbox) -> None:
    tokens = sandbox.tokens_for("ann@example.com")
    sandbox.store.revoke_user("ann@example.com")

    assert introspect(sandbox, tokens["access_token"]) == {"active": False}


def test_a_rotated_refresh_token_is_inactive(sandbox: Sandbox) -> None:
    tokens = sandbox.tokens_for("ann@example.com")
    sandbox.refresh(tokens["refresh_token"])

    assert introspect(sandbox, tokens["refresh_token"]) == {"active": False}


def test_an_unknown_token_is_inactive(sandbox: Sandbox) -> None:
    assert introspect(sandbox, "cto_at_v1_made-up") == {"active": False}


def test_introspection_needs_client_authentication(sandbox: Sandbox) -> None:
    response = sandbox.http.post("/oauth2/introspect", data={"token": "x"})

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_the_connection_id_matches_the_admin_api(sandbox: Sandbox) -> None:
    tokens = sandbox.tokens_for("ann@example.com")

    info = introspect(sandbox, tokens["refresh_token"])

    listed = sandbox.http.get(
        "/v1/partner/admin/connections", headers={"X-API-Key": "sandbox-admin-key"}
    ).json()["items"]
    assert [c["id"] for c in listed] == [info["ext"]["connection_id"]]
