"""The sandbox's API-key-protected API: seeded and added keys and user/password pairs are accepted,
anything else is 401, and no credential is echoed."""

from __future__ import annotations

import base64

import httpx

from gateway_sandbox import SandboxOptions, create_sandbox_app
from tests.fixtures.servers import serving


def test_seeded_and_added_credentials_are_accepted_and_others_refused() -> None:
    options = SandboxOptions(api_keys=("seeded-key",), basic_credentials=(("ada", "pw"),))
    with (
        serving(create_sandbox_app(options)) as server,
        httpx.Client(base_url=server.url, timeout=10) as sandbox,
    ):
        basic = "Basic " + base64.b64encode(b"ada:pw").decode()
        for headers, scheme in (
            ({"Authorization": "Bearer seeded-key"}, "bearer"),
            ({"X-Api-Key": "seeded-key"}, "header"),
            ({"Authorization": basic}, "basic"),
        ):
            answer = sandbox.get("/keyed/v1/me", headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.json()["scheme"] == scheme
            assert "seeded-key" not in answer.text and "pw" not in answer.text
        refused = sandbox.get("/keyed/v1/me", headers={"Authorization": "Bearer added-key"})
        assert refused.status_code == 401
        assert refused.json()["code"] == "invalid_credentials"
        assert sandbox.post("/_sandbox/api-keys", json={"api_key": "added-key"}).status_code == 204
        added = sandbox.post(
            "/keyed/v1/items/a/b", headers={"X-Api-Key": "added-key"}, content=b"x"
        )
        assert added.json() == {
            "method": "POST",
            "path": "a/b",
            "scheme": "header",
            "body_bytes": 1,
        }
        assert sandbox.get("/_sandbox/api-keys/calls").json() == {
            "bearer": 1,
            "header": 2,
            "basic": 1,
        }
        assert sandbox.post("/_sandbox/api-keys", json={"nothing": 1}).status_code == 400


def test_a_revoked_key_or_pair_is_refused_from_then_on() -> None:
    options = SandboxOptions(api_keys=("seeded-key",), basic_credentials=(("ada", "pw"),))
    basic = "Basic " + base64.b64encode(b"ada:pw").decode()
    with (
        serving(create_sandbox_app(options)) as server,
        httpx.Client(base_url=server.url, timeout=10) as sandbox,
    ):
        for body, headers in (
            ({"api_key": "seeded-key"}, {"Authorization": "Bearer seeded-key"}),
            ({"username": "ada", "password": "pw"}, {"Authorization": basic}),
        ):
            assert sandbox.get("/keyed/v1/me", headers=headers).status_code == 200
            assert sandbox.post("/_sandbox/api-keys/revoke", json=body).status_code == 204
            refused = sandbox.get("/keyed/v1/me", headers=headers)
            assert refused.status_code == 401
            assert refused.json()["code"] == "invalid_credentials"
        assert sandbox.post("/_sandbox/api-keys/revoke", json={}).status_code == 400
