"""The client-credentials provider beside Contio: ``/app/oauth2/token``, its revocation and the
app-level API its tokens call."""

from __future__ import annotations

from typing import Any

import httpx

from tests.gateway_sandbox.conftest import SandboxFactory
from tests.gateway_sandbox.driver import FakeClock, Sandbox

TOKEN = "/app/oauth2/token"
WHOAMI = "/app/v1/whoami"


def exchange(sandbox: Sandbox, data: Any, *, basic: bool = True) -> httpx.Response:
    if basic:
        return sandbox.http.post(TOKEN, data=data, auth=sandbox.client_auth)
    client_id, secret = sandbox.client_auth
    return sandbox.http.post(TOKEN, data={**data, "client_id": client_id, "client_secret": secret})


def whoami(sandbox: Sandbox, token: str) -> httpx.Response:
    return sandbox.http.get(WHOAMI, headers={"Authorization": f"Bearer {token}"})


def test_a_token_carries_scope_audience_and_resources_and_no_refresh_token(
    sandbox: Sandbox,
) -> None:
    data = {
        "grant_type": "client_credentials",
        "scope": "reports:read reports:write",
        "audience": "https://api.reports.example",
        "resource": ["https://api.reports.example/v1", "https://files.reports.example/"],
    }

    answer = exchange(sandbox, data)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["expires_in"] == sandbox.options.access_token_ttl
    seen = whoami(sandbox, body["access_token"]).json()
    assert seen["client_id"] == sandbox.options.client_id
    assert seen["scopes"] == ["reports:read", "reports:write"]
    assert seen["audience"] == "https://api.reports.example"
    assert seen["resources"] == ["https://api.reports.example/v1", "https://files.reports.example/"]
    assert sandbox.store.counters.snapshot()["client_credentials_exchanges"] == 1


def test_client_secret_post_works_and_a_wrong_secret_is_invalid_client(sandbox: Sandbox) -> None:
    posted = exchange(sandbox, {"grant_type": "client_credentials"}, basic=False)
    wrong = sandbox.http.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        auth=(sandbox.options.client_id, "wrong"),
    )

    assert posted.status_code == 200 and posted.json()["scope"] == "app:read"
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


def test_the_password_grant_and_a_relative_resource_are_refused(sandbox: Sandbox) -> None:
    password = exchange(sandbox, {"grant_type": "password", "username": "a", "password": "b"})
    relative = exchange(sandbox, {"grant_type": "client_credentials", "resource": "/v1"})

    assert password.status_code == 400
    assert password.json()["error"] == "unsupported_grant_type"
    assert "RFC 9700" in password.json()["error_description"]
    assert relative.status_code == 400 and relative.json()["error"] == "invalid_target"


def test_a_token_expires_and_a_revoked_one_stops_at_once(
    start_sandbox: SandboxFactory, clock: FakeClock
) -> None:
    sandbox = start_sandbox(access_token_ttl=60)
    first = exchange(sandbox, {"grant_type": "client_credentials"}).json()["access_token"]
    second = exchange(sandbox, {"grant_type": "client_credentials"}).json()["access_token"]

    revoked = sandbox.http.post(
        "/app/oauth2/revoke", data={"token": second}, auth=sandbox.client_auth
    )
    assert revoked.status_code == 200
    assert whoami(sandbox, second).status_code == 401
    assert whoami(sandbox, first).status_code == 200
    clock.advance(61)
    expired = whoami(sandbox, first)
    assert expired.status_code == 401 and expired.json()["code"] == "invalid_token"
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]


def test_the_token_endpoints_faults_apply(sandbox: Sandbox) -> None:
    sandbox.http.post("/_sandbox/faults", json={"invalid_client": True})

    answer = exchange(sandbox, {"grant_type": "client_credentials"})

    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
