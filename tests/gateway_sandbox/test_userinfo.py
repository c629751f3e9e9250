from __future__ import annotations

from tests.gateway_sandbox.driver import Sandbox


def test_userinfo_describes_the_signed_in_user(sandbox: Sandbox) -> None:
    tokens = sandbox.tokens_for("ann.lee@example.com", scope="openid profile")
    user = sandbox.store.user_by_email("ann.lee@example.com")
    assert user is not None

    response = sandbox.http.get(
        "/oauth2/userInfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )

    assert response.status_code == 200
    info = response.json()
    assert info["sub"] == str(user.id)
    assert info["email"] == "ann.lee@example.com"
    assert info["email_verified"] is True
    assert info["name"] == "Ann Lee"
    assert info["given_name"] == "Ann"
    assert info["family_name"] == "Lee"
    assert info["picture"].startswith("https://")
    assert info["locale"] == "en-US"


def test_userinfo_needs_the_profile_scope(sandbox: Sandbox) -> None:
    tokens = sandbox.tokens_for("ann@example.com", scope="openid meetings:read")

    response = sandbox.http.get(
        "/oauth2/userInfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )

    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


def test_userinfo_refuses_an_unknown_token(sandbox: Sandbox) -> None:
    response = sandbox.http.get("/oauth2/userInfo", headers={"Authorization": "Bearer nope"})

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_userinfo_refuses_a_request_without_a_token(sandbox: Sandbox) -> None:
    assert sandbox.http.get("/oauth2/userInfo").status_code == 401
