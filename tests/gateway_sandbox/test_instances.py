"""The Salesforce-like instance: ``instance_url`` in token responses, the user API under the
instance's path, the access token taken wherever a provider may want it."""

from __future__ import annotations

from tests.gateway_sandbox.conftest import SandboxFactory

PROFILE = "/instances/na1/v1/partner/user/profile"


def test_without_the_option_there_is_no_instance(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox()
    tokens = sandbox.tokens_for("ann@example.com")
    assert "instance_url" not in tokens
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert sandbox.http.get(PROFILE, headers=headers).status_code == 404


def test_the_token_response_names_the_instance_whose_path_serves_the_api(
    start_sandbox: SandboxFactory,
) -> None:
    sandbox = start_sandbox(instance_url="{origin}/instances/na1")
    tokens = sandbox.tokens_for("ann@example.com")
    assert tokens["instance_url"] == f"{sandbox.http.base_url}".rstrip("/") + "/instances/na1"
    token = tokens["access_token"]
    for headers, params, where in (
        ({"Authorization": f"Bearer {token}"}, {}, "authorization:bearer"),
        ({"Authorization": f"token {token}"}, {}, "authorization:token"),
        ({"X-Sandbox-Token": token}, {}, "header:x-sandbox-token"),
        ({}, {"sandbox_token": token}, "query:sandbox_token"),
    ):
        response = sandbox.http.get(PROFILE, headers=headers, params=params)
        assert response.status_code == 200, response.text
        assert response.json()["email"] == "ann@example.com"
        assert response.headers["x-sandbox-credential"] == where
        assert response.headers["x-sandbox-instance"] == "na1"


def test_two_credentials_are_refused(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(instance_url="{origin}/instances/na1")
    token = sandbox.tokens_for("ann@example.com")["access_token"]
    response = sandbox.http.get(
        PROFILE, headers={"X-Sandbox-Token": token}, params={"sandbox_token": token}
    )
    assert (response.status_code, response.json()["code"]) == (400, "ambiguous_credential")


def test_the_control_api_moves_the_instance_the_token_responses_name(
    start_sandbox: SandboxFactory,
) -> None:
    sandbox = start_sandbox(instance_url="{origin}/instances/na1")
    moved = sandbox.http.post("/_sandbox/instance", json={"instance_url": "{origin}/instances/na2"})
    assert moved.status_code == 200, moved.text
    tokens = sandbox.tokens_for("ann@example.com")
    assert tokens["instance_url"] == f"{sandbox.http.base_url}".rstrip("/") + "/instances/na2"
    empty = sandbox.http.post("/_sandbox/instance", json={"instance_url": " "})
    assert (empty.status_code, empty.json()["code"]) == (400, "invalid_request")


def test_a_sandbox_without_instances_cannot_move_one(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox()
    moved = sandbox.http.post("/_sandbox/instance", json={"instance_url": "{origin}/instances/x"})
    assert (moved.status_code, moved.json()["code"]) == (409, "no_instances")
    assert "instance_url" not in sandbox.tokens_for("ann@example.com")
