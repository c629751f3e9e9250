from __future__ import annotations

from tests.gateway_sandbox.driver import FakeClock, Sandbox, verify_id_token


def test_refresh_returns_a_new_access_token_and_a_new_refresh_token(sandbox: Sandbox) -> None:
    first = sandbox.tokens_for("ann@example.com")

    response = sandbox.refresh(first["refresh_token"])

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    second = response.json()
    assert second["access_token"].startswith("cto_at_v1_")
    assert second["refresh_token"].startswith("cto_rt_v1_")
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["scope"] == first["scope"]
    assert second["expires_in"] == 86400


def test_refreshed_access_token_works(sandbox: Sandbox) -> None:
    first = sandbox.tokens_for("ann@example.com")

    second = sandbox.refresh(first["refresh_token"]).json()

    assert sandbox.api("/profile", second["access_token"]).status_code == 200


def test_the_new_refresh_token_refreshes_again(sandbox: Sandbox) -> None:
    first = sandbox.tokens_for("ann@example.com")
    second = sandbox.refresh(first["refresh_token"]).json()

    assert sandbox.refresh(second["refresh_token"]).status_code == 200


def test_reusing_a_rotated_refresh_token_is_invalid_grant(sandbox: Sandbox) -> None:
    first = sandbox.tokens_for("ann@example.com")
    sandbox.refresh(first["refresh_token"])

    response = sandbox.refresh(first["refresh_token"])

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_reusing_a_rotated_refresh_token_revokes_the_whole_grant(sandbox: Sandbox) -> None:
    first = sandbox.tokens_for("ann@example.com")
    second = sandbox.refresh(first["refresh_token"]).json()

    sandbox.refresh(first["refresh_token"])

    assert sandbox.refresh(second["refresh_token"]).json()["error"] == "invalid_grant"
    assert sandbox.api("/profile", second["access_token"]).status_code == 401


def test_a_refresh_leaves_the_previous_access_token_valid(sandbox: Sandbox) -> None:
    first = sandbox.tokens_for("ann@example.com")

    sandbox.refresh(first["refresh_token"])

    assert sandbox.api("/profile", first["access_token"]).status_code == 200


def test_an_expired_refresh_token_is_invalid_grant(sandbox: Sandbox, clock: FakeClock) -> None:
    tokens = sandbox.tokens_for("ann@example.com")
    clock.advance(30 * 86400)

    assert sandbox.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_each_refresh_token_lives_refresh_token_ttl_from_its_issue(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    first = sandbox.tokens_for("ann@example.com")
    clock.advance(20 * 86400)
    second = sandbox.refresh(first["refresh_token"]).json()
    clock.advance(20 * 86400)

    assert sandbox.refresh(second["refresh_token"]).status_code == 200


def test_a_refresh_token_of_a_revoked_user_is_invalid_grant(sandbox: Sandbox) -> None:
    tokens = sandbox.tokens_for("ann@example.com")
    sandbox.store.revoke_user("ann@example.com")

    assert sandbox.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_an_unknown_refresh_token_is_invalid_grant(sandbox: Sandbox) -> None:
    assert sandbox.refresh("cto_rt_v1_made-up").json()["error"] == "invalid_grant"


def test_an_access_token_is_not_a_refresh_token(sandbox: Sandbox) -> None:
    tokens = sandbox.tokens_for("ann@example.com")

    assert sandbox.refresh(tokens["access_token"]).json()["error"] == "invalid_grant"


def test_missing_refresh_token_is_invalid_request(sandbox: Sandbox) -> None:
    response = sandbox.token({"grant_type": "refresh_token"})

    assert response.json()["error"] == "invalid_request"


def test_refresh_returns_a_fresh_id_token_without_the_nonce(sandbox: Sandbox) -> None:
    code = sandbox.code_for("ann@example.com", scope="openid profile", nonce="n-1")
    first = sandbox.exchange(code).json()

    second = sandbox.refresh(first["refresh_token"]).json()

    claims = verify_id_token(sandbox, second["id_token"])
    assert claims["email"] == "ann@example.com"
    assert "nonce" not in claims
