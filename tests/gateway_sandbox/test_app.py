"""Behaviour shared by every route of the sandbox app."""

from __future__ import annotations

import uuid

import pytest

from gateway_sandbox import SandboxOptions, create_sandbox_app
from gateway_sandbox.state.store import SandboxStore
from tests.gateway_sandbox.driver import Sandbox


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/.well-known/jwks.json"),
        ("GET", "/oauth2/authorize"),
        ("POST", "/oauth2/token"),
        ("GET", "/v1/partner/user/profile"),
        ("GET", "/no/such/path"),
    ],
)
def test_every_response_carries_a_request_id(sandbox: Sandbox, method: str, path: str) -> None:
    response = sandbox.http.request(method, path)

    assert uuid.UUID(response.headers["x-request-id"])


def test_request_ids_differ_between_requests(sandbox: Sandbox) -> None:
    first = sandbox.http.get("/oauth2/health").headers["x-request-id"]
    second = sandbox.http.get("/oauth2/health").headers["x-request-id"]

    assert first != second


def test_the_store_is_exposed_as_app_state() -> None:
    options = SandboxOptions(client_id="inspect-me")

    app = create_sandbox_app(options)

    assert isinstance(app.state.sandbox, SandboxStore)
    assert app.state.sandbox.options is options
