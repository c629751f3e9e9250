from __future__ import annotations

import pytest

from tests.gateway_sandbox.conftest import SandboxFactory
from tests.gateway_sandbox.driver import Sandbox


@pytest.mark.parametrize(
    "path", ["/.well-known/openid_configuration", "/.well-known/openid-configuration"]
)
def test_discovery_answers_on_contio_and_standard_paths(sandbox: Sandbox, path: str) -> None:
    config = sandbox.http.get(path).json()

    assert config["issuer"] == sandbox.url
    assert config["authorization_endpoint"] == f"{sandbox.url}/oauth2/authorize"
    assert config["token_endpoint"] == f"{sandbox.url}/oauth2/token"
    assert config["userinfo_endpoint"] == f"{sandbox.url}/oauth2/userInfo"
    assert config["jwks_uri"] == f"{sandbox.url}/.well-known/jwks.json"
    assert config["introspection_endpoint"] == f"{sandbox.url}/oauth2/introspect"
    assert config["revocation_endpoint"] == f"{sandbox.url}/oauth2/revoke"


def test_discovery_lists_supported_methods_and_scopes(sandbox: Sandbox) -> None:
    config = sandbox.http.get("/.well-known/openid-configuration").json()

    assert config["response_types_supported"] == ["code"]
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]
    assert config["subject_types_supported"] == ["public"]
    assert {"openid", "profile", "meetings:read", "action-items:read"} <= set(
        config["scopes_supported"]
    )
    assert {"sub", "email", "name", "nonce"} <= set(config["claims_supported"])


def test_configured_issuer_replaces_the_request_origin(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(issuer="https://auth.sandbox.test/")

    config = sandbox.http.get("/.well-known/openid-configuration").json()

    assert config["issuer"] == "https://auth.sandbox.test"
    assert config["token_endpoint"] == "https://auth.sandbox.test/oauth2/token"


def test_jwks_publishes_one_rs256_signing_key_with_a_kid(sandbox: Sandbox) -> None:
    (key,) = sandbox.http.get("/.well-known/jwks.json").json()["keys"]

    assert key["kty"] == "RSA"
    assert key["alg"] == "RS256"
    assert key["use"] == "sig"
    assert key["kid"]
    assert key["n"]
    assert key["e"] == "AQAB"


def test_health_reports_healthy(sandbox: Sandbox) -> None:
    assert sandbox.http.get("/oauth2/health").json()["status"] == "healthy"
