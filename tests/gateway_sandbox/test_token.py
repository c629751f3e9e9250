from __future__ import annotations

from tests.gateway_sandbox.conftest import SandboxFactory
from tests.gateway_sandbox.driver import FakeClock, Pkce, Sandbox, verify_id_token


def test_code_exchange_with_client_secret_basic_returns_opaque_tokens(sandbox: Sandbox) -> None:
    response = sandbox.exchange(sandbox.code_for("ann@example.com", scope="profile"))

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert body["access_token"].startswith("cto_at_v1_")
    assert body["refresh_token"].startswith("cto_rt_v1_")
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86400
    assert body["scope"] == "profile"


def test_code_exchange_with_client_secret_post_works(sandbox: Sandbox) -> None:
    code = sandbox.code_for("ann@example.com")
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": sandbox.options.redirect_uris[0],
    }

    response = sandbox.token(data, basic=False)

    assert response.status_code == 200
    assert response.json()["access_token"].startswith("cto_at_v1_")


def test_expires_in_follows_the_configured_access_token_ttl(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(access_token_ttl=600)

    assert sandbox.tokens_for("ann@example.com")["expires_in"] == 600


def test_every_configured_client_secret_is_accepted(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(client_secrets=("old-secret", "new-secret"))
    for secret in ("old-secret", "new-secret"):
        sandbox.client_auth = ("sandbox-client", secret)

        assert sandbox.tokens_for("ann@example.com")["access_token"]


def test_wrong_client_secret_is_invalid_client(sandbox: Sandbox) -> None:
    code = sandbox.code_for("ann@example.com")
    sandbox.client_auth = ("sandbox-client", "wrong")

    response = sandbox.exchange(code)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")


def test_wrong_client_secret_posted_in_the_form_is_invalid_client(sandbox: Sandbox) -> None:
    sandbox.client_auth = ("sandbox-client", "wrong")

    response = sandbox.token({"grant_type": "refresh_token", "refresh_token": "x"}, basic=False)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_unknown_client_id_is_invalid_client(sandbox: Sandbox) -> None:
    sandbox.client_auth = ("someone-else", "sandbox-secret")

    response = sandbox.refresh("x")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_missing_client_authentication_is_invalid_client(sandbox: Sandbox) -> None:
    response = sandbox.http.post("/oauth2/token", data={"grant_type": "refresh_token"})

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_using_two_client_authentication_methods_is_refused(sandbox: Sandbox) -> None:
    data = {"grant_type": "refresh_token", "refresh_token": "x", "client_secret": "sandbox-secret"}

    response = sandbox.token(data)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_error_body_has_both_contio_shapes_and_the_request_id(sandbox: Sandbox) -> None:
    response = sandbox.token({"grant_type": "password"})

    assert response.status_code == 400
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body == {
        "error": "unsupported_grant_type",
        "error_description": body["error_description"],
        "code": "unsupported_grant_type",
        "message": body["error_description"],
        "request_id": response.headers["x-request-id"],
    }


def test_client_credentials_grant_is_unsupported(sandbox: Sandbox) -> None:
    response = sandbox.token({"grant_type": "client_credentials"})

    assert response.json()["error"] == "unsupported_grant_type"


def test_missing_grant_type_is_invalid_request(sandbox: Sandbox) -> None:
    assert sandbox.token({}).json()["error"] == "invalid_request"


def test_missing_code_is_invalid_request(sandbox: Sandbox) -> None:
    response = sandbox.token({"grant_type": "authorization_code"})

    assert response.json()["error"] == "invalid_request"


def test_unknown_code_is_invalid_grant(sandbox: Sandbox) -> None:
    assert sandbox.exchange("no-such-code").json()["error"] == "invalid_grant"


def test_a_code_can_be_used_only_once(sandbox: Sandbox) -> None:
    code = sandbox.code_for("ann@example.com")
    assert sandbox.exchange(code).status_code == 200

    response = sandbox.exchange(code)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_reusing_a_code_revokes_the_tokens_it_produced(sandbox: Sandbox) -> None:
    code = sandbox.code_for("ann@example.com")
    first = sandbox.exchange(code).json()

    sandbox.exchange(code)

    assert sandbox.api("/profile", first["access_token"]).status_code == 401
    assert sandbox.refresh(first["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_code_expires_after_code_ttl(sandbox: Sandbox, clock: FakeClock) -> None:
    code = sandbox.code_for("ann@example.com")
    clock.advance(300)

    response = sandbox.exchange(code)

    assert response.json()["error"] == "invalid_grant"
    assert "expired" in response.json()["error_description"]


def test_a_code_is_still_good_just_before_code_ttl(sandbox: Sandbox, clock: FakeClock) -> None:
    code = sandbox.code_for("ann@example.com")
    clock.advance(299)

    assert sandbox.exchange(code).status_code == 200


def test_code_exchange_needs_the_same_redirect_uri(start_sandbox: SandboxFactory) -> None:
    other = "http://127.0.0.1:9000/callback"
    sandbox = start_sandbox(redirect_uris=("http://127.0.0.1:8000/oauth/callback", other))
    code = sandbox.code_for("ann@example.com")

    response = sandbox.exchange(code, redirect_uri=other)

    assert response.json()["error"] == "invalid_grant"


def test_code_exchange_without_redirect_uri_is_refused(sandbox: Sandbox) -> None:
    code = sandbox.code_for("ann@example.com")

    response = sandbox.token({"grant_type": "authorization_code", "code": code})

    assert response.json()["error"] == "invalid_grant"


def test_pkce_with_the_right_verifier_succeeds(sandbox: Sandbox) -> None:
    pkce = Pkce.new()
    code = sandbox.code_for(
        "ann@example.com", code_challenge=pkce.challenge, code_challenge_method="S256"
    )

    assert sandbox.exchange(code, code_verifier=pkce.verifier).status_code == 200


def test_pkce_with_a_wrong_verifier_is_invalid_grant(sandbox: Sandbox) -> None:
    pkce = Pkce.new()
    code = sandbox.code_for(
        "ann@example.com", code_challenge=pkce.challenge, code_challenge_method="S256"
    )

    response = sandbox.exchange(code, code_verifier=Pkce.new().verifier)

    assert response.json()["error"] == "invalid_grant"


def test_pkce_without_the_verifier_is_invalid_grant(sandbox: Sandbox) -> None:
    pkce = Pkce.new()
    code = sandbox.code_for(
        "ann@example.com", code_challenge=pkce.challenge, code_challenge_method="S256"
    )

    assert sandbox.exchange(code).json()["error"] == "invalid_grant"


def test_a_verifier_for_a_code_issued_without_challenge_is_refused(sandbox: Sandbox) -> None:
    code = sandbox.code_for("ann@example.com")

    response = sandbox.exchange(code, code_verifier=Pkce.new().verifier)

    assert response.json()["error"] == "invalid_grant"


def test_id_token_is_sent_only_when_openid_was_granted(sandbox: Sandbox) -> None:
    assert "id_token" in sandbox.tokens_for("ann@example.com", scope="openid profile")
    assert "id_token" not in sandbox.tokens_for("ann@example.com", scope="profile")


def test_id_token_is_signed_with_the_jwks_key_and_names_the_user(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    code = sandbox.code_for("ann.lee@example.com", scope="openid profile", nonce="nonce-42")
    id_token = sandbox.exchange(code).json()["id_token"]

    claims = verify_id_token(sandbox, id_token)

    user = sandbox.store.user_by_email("ann.lee@example.com")
    assert user is not None
    assert claims["iss"] == sandbox.url
    assert claims["sub"] == str(user.id)
    assert claims["aud"] == "sandbox-client"
    assert claims["iat"] == int(clock.now)
    assert claims["exp"] == int(clock.now) + 86400
    assert claims["nonce"] == "nonce-42"
    assert claims["email"] == "ann.lee@example.com"
    assert claims["name"] == "Ann Lee"


def test_id_token_has_no_nonce_when_none_was_sent(sandbox: Sandbox) -> None:
    id_token = sandbox.tokens_for("ann@example.com", scope="openid")["id_token"]

    assert "nonce" not in verify_id_token(sandbox, id_token)


def test_token_endpoint_only_answers_post(sandbox: Sandbox) -> None:
    response = sandbox.http.get("/oauth2/token")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_basic_credentials_may_be_form_encoded_or_raw(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(client_secrets=("s3cret+/=%",))
    for secret in ("s3cret+/=%", "s3cret%2B%2F%3D%25"):
        sandbox.client_auth = ("sandbox-client", secret)

        assert sandbox.tokens_for("ann@example.com")["access_token"]
