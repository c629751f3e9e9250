"""Consent without a browser: POST /oauth2/check-consent and POST /oauth2/authorize (reference §2, §3)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway_sandbox.seed import ACME
from tests.gateway_sandbox.conftest import SandboxFactory
from tests.gateway_sandbox.driver import FakeClock, Pkce, Sandbox, query_of


def check(sandbox: Sandbox, email: str, **fields: Any) -> httpx.Response:
    body = {"client_id": sandbox.options.client_id, "email": email, **fields}
    return sandbox.http.post("/oauth2/check-consent", json=body, auth=sandbox.client_auth)


def test_the_whole_flow_gives_tokens_for_a_provisioned_shared_workspace_member(
    sandbox: Sandbox,
) -> None:
    tokens = sandbox.provisioned_tokens(
        "joiner@example.com", workspace_id=str(ACME.id), is_admin=True
    )

    profile = sandbox.api("/profile", tokens["access_token"]).json()

    assert profile["email"] == "joiner@example.com"
    assert profile["workspace_id"] == str(ACME.id)
    assert profile["workspace_name"] == "Acme Team"
    assert profile["workspace_role"] == "WORKSPACE_ADMIN"


def test_authorize_answers_a_code_the_redirect_url_and_the_state(sandbox: Sandbox) -> None:
    sandbox.sign_in_headless("new@example.com")

    response = sandbox.authorize_headless("new@example.com")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"code", "redirect_url", "state"}
    assert body["state"] == "state-123"
    redirect = httpx.URL(body["redirect_url"])
    assert str(redirect.copy_with(query=None)) == sandbox.options.redirect_uris[0]
    assert dict(redirect.params) == {"code": body["code"], "state": "state-123", "iss": sandbox.url}


def test_a_pkce_code_needs_its_verifier(sandbox: Sandbox) -> None:
    sandbox.sign_in_headless("new@example.com")
    pkce = Pkce.new()
    code = sandbox.authorize_headless(
        "new@example.com", code_challenge=pkce.challenge, code_challenge_method="S256"
    ).json()["code"]

    assert sandbox.exchange(code).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"redirect_uri": "https://evil.example/cb"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "openid everything"}, "invalid_scope"),
        ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
        ({"consent": None}, "invalid_request"),
        ({"email": "nope"}, "invalid_request"),
    ],
)
def test_bad_authorize_requests_are_400(
    sandbox: Sandbox, overrides: dict[str, Any], code: str
) -> None:
    sandbox.sign_in_headless("new@example.com")
    email = overrides.pop("email", "new@example.com")

    response = sandbox.authorize_headless(email, **overrides)

    assert response.status_code == 400
    assert response.json()["code"] == code


def test_refusing_consent_redirects_with_access_denied_and_no_code(sandbox: Sandbox) -> None:
    sandbox.sign_in_headless("new@example.com")

    body = sandbox.authorize_headless("new@example.com", consent=False).json()

    assert body["code"] is None
    assert httpx.URL(body["redirect_url"]).params["error"] == "access_denied"


def test_authorize_without_a_verified_code_is_401(sandbox: Sandbox) -> None:
    sandbox.initiate("new@example.com")  # code sent, never verified

    response = sandbox.authorize_headless("new@example.com")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_the_session_expires_after_session_ttl(
    start_sandbox: SandboxFactory, clock: FakeClock
) -> None:
    sandbox = start_sandbox(session_ttl=1800)
    sandbox.sign_in_headless("new@example.com")
    clock.advance(1800)

    authorize = sandbox.authorize_headless("new@example.com")
    checked = check(sandbox, "new@example.com")

    assert (authorize.status_code, authorize.json()["code"]) == (401, "session_expired")
    assert (checked.status_code, checked.json()["code"]) == (401, "session_expired")


def test_a_new_code_opens_a_new_session(start_sandbox: SandboxFactory, clock: FakeClock) -> None:
    sandbox = start_sandbox(session_ttl=60)
    sandbox.sign_in_headless("new@example.com")
    clock.advance(60)
    sandbox.sign_in_headless("new@example.com")

    assert sandbox.authorize_headless("new@example.com").status_code == 200


def test_authorize_checks_basic_credentials_when_sent(sandbox: Sandbox) -> None:
    sandbox.sign_in_headless("new@example.com")
    body = {
        "client_id": "sandbox-client",
        "email": "new@example.com",
        "consent": True,
        "redirect_uri": sandbox.options.redirect_uris[0],
        "response_type": "code",
    }

    good = sandbox.http.post("/oauth2/authorize", json=body, auth=sandbox.client_auth)
    bad = sandbox.http.post("/oauth2/authorize", json=body, auth=("sandbox-client", "wrong"))
    foreign = sandbox.http.post("/oauth2/authorize", json={**body, "client_id": "other"})

    assert [good.status_code, bad.status_code, foreign.status_code] == [200, 401, 401]


def test_check_consent_before_any_consent(sandbox: Sandbox) -> None:
    sandbox.sign_in_headless("new@example.com")

    body = check(sandbox, "new@example.com", scope="openid profile").json()

    assert body == {
        "has_consent": False,
        "requires_consent": True,
        "session_valid": True,
        "redirect_url": None,
    }


def test_check_consent_for_someone_without_a_session(sandbox: Sandbox) -> None:
    body = check(sandbox, "stranger@example.com").json()

    assert body["session_valid"] is False
    assert body["has_consent"] is False


def test_after_consent_check_consent_skips_it_and_hands_out_a_code(sandbox: Sandbox) -> None:
    sandbox.sign_in_headless("new@example.com")
    sandbox.authorize_headless("new@example.com", scope="openid profile meetings:read")

    response = check(
        sandbox,
        "new@example.com",
        scopes=["openid", "meetings:read"],
        redirect_uri=sandbox.options.redirect_uris[0],
        response_type="code",
        state="s",
    )

    body = response.json()
    assert (body["has_consent"], body["requires_consent"], body["session_valid"]) == (
        True,
        False,
        True,
    )
    code = dict(httpx.URL(body["redirect_url"]).params)["code"]
    assert sandbox.exchange(code).json()["scope"] == "openid meetings:read"


def test_check_consent_may_leave_out_the_response_type_but_not_send_another(
    sandbox: Sandbox,
) -> None:
    sandbox.sign_in_headless("new@example.com")
    sandbox.authorize_headless("new@example.com", scope="openid")
    redirect_uri = sandbox.options.redirect_uris[0]

    implied = check(sandbox, "new@example.com", scope="openid", redirect_uri=redirect_uri)
    other = check(
        sandbox, "new@example.com", scope="openid", redirect_uri=redirect_uri, response_type="token"
    )

    assert "code=" in implied.json()["redirect_url"]
    assert (other.status_code, other.json()["code"]) == (400, "unsupported_response_type")


def test_authorize_needs_the_response_type(sandbox: Sandbox) -> None:
    sandbox.sign_in_headless("new@example.com")

    response = sandbox.authorize_headless("new@example.com", response_type=None)

    assert (response.status_code, response.json()["code"]) == (400, "invalid_request")


def test_consent_covers_only_the_scopes_given(sandbox: Sandbox) -> None:
    sandbox.sign_in_headless("new@example.com")
    sandbox.authorize_headless("new@example.com", scope="openid profile")

    body = check(sandbox, "new@example.com", scope="openid meetings:write").json()

    assert body["has_consent"] is False
    assert body["redirect_url"] is None


def test_browser_consent_counts_for_check_consent(sandbox: Sandbox) -> None:
    query_of(sandbox.consent("new@example.com"))  # approved on the page
    sandbox.sign_in_headless("new@example.com")

    assert check(sandbox, "new@example.com", scope="openid profile").json()["has_consent"] is True


def test_revoking_the_connection_forgets_the_consent(sandbox: Sandbox) -> None:
    sandbox.provisioned_tokens("new@example.com")
    sandbox.store.revoke_user("new@example.com")

    assert check(sandbox, "new@example.com", scope="openid").json()["has_consent"] is False


def test_check_consent_needs_basic_credentials(sandbox: Sandbox) -> None:
    response = sandbox.http.post(
        "/oauth2/check-consent", json={"client_id": "sandbox-client", "email": "a@example.com"}
    )

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_client"
