from __future__ import annotations

import httpx

from tests.gateway_sandbox.driver import Sandbox


def revoke(sandbox: Sandbox, token: str, hint: str | None = None) -> httpx.Response:
    data = {"token": token, **({"token_type_hint": hint} if hint else {})}
    return sandbox.http.post("/oauth2/revoke", data=data, auth=sandbox.client_auth)


def test_revoking_a_refresh_token_revokes_the_grant_and_its_access_tokens(
    sandbox: Sandbox,
) -> None:
    tokens = sandbox.tokens_for("ann@example.com")

    response = revoke(sandbox, tokens["refresh_token"], "refresh_token")

    assert response.status_code == 200
    assert sandbox.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert sandbox.api("/profile", tokens["access_token"]).status_code == 401


def test_revoking_an_access_token_ends_only_that_token(sandbox: Sandbox) -> None:
    tokens = sandbox.tokens_for("ann@example.com")

    revoke(sandbox, tokens["access_token"], "access_token")

    assert sandbox.api("/profile", tokens["access_token"]).status_code == 401
    assert sandbox.refresh(tokens["refresh_token"]).status_code == 200


def test_a_wrong_hint_does_not_stop_the_revocation(sandbox: Sandbox) -> None:
    tokens = sandbox.tokens_for("ann@example.com")

    revoke(sandbox, tokens["refresh_token"], "access_token")

    assert sandbox.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_revoking_an_unknown_token_answers_200(sandbox: Sandbox) -> None:
    assert revoke(sandbox, "cto_rt_v1_made-up").status_code == 200


def test_revoking_twice_answers_200(sandbox: Sandbox) -> None:
    tokens = sandbox.tokens_for("ann@example.com")
    revoke(sandbox, tokens["refresh_token"])

    assert revoke(sandbox, tokens["refresh_token"]).status_code == 200


def test_revocation_needs_client_authentication(sandbox: Sandbox) -> None:
    tokens = sandbox.tokens_for("ann@example.com")

    response = sandbox.http.post("/oauth2/revoke", data={"token": tokens["refresh_token"]})

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert sandbox.refresh(tokens["refresh_token"]).status_code == 200


def test_revocation_accepts_client_secret_post(sandbox: Sandbox) -> None:
    tokens = sandbox.tokens_for("ann@example.com")
    client_id, secret = sandbox.client_auth
    data = {"token": tokens["refresh_token"], "client_id": client_id, "client_secret": secret}

    assert sandbox.http.post("/oauth2/revoke", data=data).status_code == 200
    assert sandbox.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_revocation_without_a_token_is_invalid_request(sandbox: Sandbox) -> None:
    response = sandbox.http.post("/oauth2/revoke", data={}, auth=sandbox.client_auth)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
