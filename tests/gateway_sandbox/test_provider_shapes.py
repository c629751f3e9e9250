"""The sandbox emulating other providers' shapes: comma-separated scopes, refresh tokens that do not
rotate, ``private_key_jwt`` client authentication and a public client with PKCE."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from gateway_sandbox.client_assertions import ASSERTION_TYPE
from tests.gateway_sandbox.conftest import SandboxFactory
from tests.gateway_sandbox.driver import FakeClock, Pkce, Sandbox, query_of

EMAIL = "ann@example.com"


@pytest.fixture(scope="module")
def client_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "client-1"}, private=True)


def registered(key: ECKey) -> dict[str, Any]:
    """The client's JWK Set as registered at the provider: public keys only."""
    return {"keys": [key.as_dict(private=False)]}


def signed(key: ECKey | RSAKey, claims: dict[str, Any], alg: str = "ES256") -> str:
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


def claims_for(sandbox: Sandbox, clock: FakeClock, **changes: Any) -> dict[str, Any]:
    now = int(clock.now)
    claims = {
        "iss": sandbox.options.client_id,
        "sub": sandbox.options.client_id,
        "aud": f"{sandbox.url}/oauth2/token",
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(16),
    }
    claims.update(changes)
    return claims


def with_assertion(sandbox: Sandbox, assertion: str, **form: str) -> Any:
    data = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion, **form}
    return sandbox.http.post("/oauth2/token", data=data)


def refresh_form(token: str = "cto_rt_v1_unknown") -> dict[str, str]:
    return {"grant_type": "refresh_token", "refresh_token": token}


def test_comma_scopes_are_read_and_answered_with_commas(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(scope_separator=",")
    tokens = sandbox.tokens_for(EMAIL, scope="openid,profile,meetings:read")
    assert tokens["scope"] == "openid,profile,meetings:read"
    assert sandbox.api("/meetings", tokens["access_token"]).status_code == 200


def test_a_space_is_not_a_separator_where_commas_are(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(scope_separator=",", auto_approve=True)
    refused = sandbox.authorize(scope="openid profile", login_hint=EMAIL)
    assert query_of(refused)["error"] == "invalid_scope"


def test_refresh_tokens_that_do_not_rotate_keep_working(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(rotate_refresh_tokens=False)
    first = sandbox.tokens_for(EMAIL)
    answers = [sandbox.refresh(first["refresh_token"]) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert all("refresh_token" not in a.json() for a in answers)
    latest = answers[-1].json()["access_token"]
    assert latest != first["access_token"]
    assert sandbox.api("/profile", latest).status_code == 200
    assert sandbox.store.stats()["reuse_detections"] == 0


def test_private_key_jwt_accepts_a_fresh_assertion_once(
    start_sandbox: SandboxFactory, clock: FakeClock, client_key: ECKey
) -> None:
    sandbox = start_sandbox(
        client_authentication="private_key_jwt", client_jwks=registered(client_key)
    )
    code = sandbox.code_for(EMAIL)
    assertion = signed(client_key, claims_for(sandbox, clock))
    form = {"grant_type": "authorization_code", "code": code}
    form["redirect_uri"] = sandbox.options.redirect_uris[0]
    accepted = with_assertion(sandbox, assertion, **form)
    assert accepted.status_code == 200, accepted.text
    replayed = with_assertion(sandbox, assertion, **refresh_form(accepted.json()["refresh_token"]))
    assert replayed.status_code == 401
    assert replayed.json()["error"] == "invalid_client"
    assert "jti" in replayed.json()["error_description"]
    assert sandbox.store.stats()["assertions_refused"] == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"aud": "https://elsewhere.example/oauth2/token"}, "aud"),
        ({"iss": "someone-else"}, "iss"),
        ({"sub": "someone-else"}, "sub"),
        ({"exp": 1_790_000_000 - 1}, "expired"),
        ({"exp": 1_790_000_000 + 3600}, "expire within"),
        ({"jti": None}, "jti"),
    ],
)
def test_private_key_jwt_refuses_a_wrong_claim(
    start_sandbox: SandboxFactory,
    clock: FakeClock,
    client_key: ECKey,
    change: dict[str, Any],
    reason: str,
) -> None:
    sandbox = start_sandbox(
        client_authentication="private_key_jwt", client_jwks=registered(client_key)
    )
    claims = {k: v for k, v in claims_for(sandbox, clock, **change).items() if v is not None}
    refused = with_assertion(sandbox, signed(client_key, claims), **refresh_form())
    assert refused.status_code == 401
    assert reason in refused.json()["error_description"]


def test_private_key_jwt_refuses_a_key_the_client_did_not_register(
    start_sandbox: SandboxFactory, clock: FakeClock, client_key: ECKey
) -> None:
    sandbox = start_sandbox(
        client_authentication="private_key_jwt", client_jwks=registered(client_key)
    )
    impostor = ECKey.generate_key("P-256", parameters={"kid": "client-1"}, private=True)
    refused = with_assertion(
        sandbox, signed(impostor, claims_for(sandbox, clock)), **refresh_form()
    )
    assert refused.status_code == 401
    unknown = ECKey.generate_key("P-256", parameters={"kid": "other"}, private=True)
    refused = with_assertion(sandbox, signed(unknown, claims_for(sandbox, clock)), **refresh_form())
    assert refused.status_code == 401


def test_private_key_jwt_refuses_a_client_secret(
    start_sandbox: SandboxFactory, client_key: ECKey
) -> None:
    sandbox = start_sandbox(
        client_authentication="private_key_jwt", client_jwks=registered(client_key)
    )
    assert sandbox.refresh("cto_rt_v1_unknown").status_code == 401  # Basic with the secret


def test_a_public_client_needs_pkce_and_no_secret(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(client_authentication="none", auto_approve=True)
    refused = sandbox.authorize(login_hint=EMAIL)
    assert query_of(refused)["error"] == "invalid_request"
    pkce = Pkce.new()
    approved = sandbox.authorize(
        login_hint=EMAIL, code_challenge=pkce.challenge, code_challenge_method="S256"
    )
    form = {
        "grant_type": "authorization_code",
        "code": query_of(approved)["code"],
        "redirect_uri": sandbox.options.redirect_uris[0],
        "client_id": sandbox.options.client_id,
    }
    without_verifier = sandbox.http.post("/oauth2/token", data=form)
    assert without_verifier.status_code == 400
    with_secret = sandbox.http.post(
        "/oauth2/token", data={**form, "code_verifier": pkce.verifier, "client_secret": "x"}
    )
    assert with_secret.status_code == 401


def test_a_public_client_exchanges_its_code_with_the_verifier(
    start_sandbox: SandboxFactory,
) -> None:
    sandbox = start_sandbox(client_authentication="none", auto_approve=True)
    pkce = Pkce.new()
    approved = sandbox.authorize(
        login_hint=EMAIL, code_challenge=pkce.challenge, code_challenge_method="S256"
    )
    exchanged = sandbox.http.post(
        "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": query_of(approved)["code"],
            "redirect_uri": sandbox.options.redirect_uris[0],
            "client_id": sandbox.options.client_id,
            "code_verifier": pkce.verifier,
        },
    )
    assert exchanged.status_code == 200, exchanged.text
    refreshed = sandbox.http.post(
        "/oauth2/token",
        data={**refresh_form(exchanged.json()["refresh_token"]), "client_id": "sandbox-client"},
    )
    assert refreshed.status_code == 200


def test_discovery_names_the_client_authentication(
    start_sandbox: SandboxFactory, client_key: ECKey
) -> None:
    sandbox = start_sandbox(
        client_authentication="private_key_jwt", client_jwks=registered(client_key)
    )
    metadata = sandbox.http.get("/.well-known/openid-configuration").json()
    assert metadata["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]


def test_keys_go_with_private_key_jwt_only(start_sandbox: SandboxFactory) -> None:
    with pytest.raises(ValueError, match="private_key_jwt"):
        start_sandbox(client_jwks_url="http://127.0.0.1:9/jwks.json")
    with pytest.raises(ValueError, match="private_key_jwt"):
        start_sandbox(client_authentication="private_key_jwt")
