from __future__ import annotations

import httpx
import pytest

from gateway_sandbox.state.store import DEMO_EMAIL
from tests.gateway_sandbox.conftest import SandboxFactory
from tests.gateway_sandbox.driver import Pkce, Sandbox, email_input, hidden_fields, query_of

REDIRECT_URI = "http://127.0.0.1:8000/oauth/callback"


def test_unknown_client_gets_an_error_page_not_a_redirect(sandbox: Sandbox) -> None:
    response = sandbox.authorize(client_id="someone-else")

    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "client_id" in response.text


@pytest.mark.parametrize(
    "redirect_uri",
    [
        REDIRECT_URI + "/",
        REDIRECT_URI + "?next=1",
        REDIRECT_URI.upper(),
        "http://localhost:8000/oauth/callback",
        "https://evil.example/oauth/callback",
    ],
)
def test_redirect_uri_must_match_a_registered_one_exactly(
    sandbox: Sandbox, redirect_uri: str
) -> None:
    response = sandbox.authorize(redirect_uri=redirect_uri)

    assert response.status_code == 400
    assert "location" not in response.headers
    assert "redirect_uri" in response.text


def test_missing_redirect_uri_gets_an_error_page(sandbox: Sandbox) -> None:
    response = sandbox.authorize(redirect_uri=None)

    assert response.status_code == 400
    assert "location" not in response.headers


def test_any_registered_redirect_uri_is_accepted(start_sandbox: SandboxFactory) -> None:
    other = "http://127.0.0.1:9000/callback?tenant=a"
    sandbox = start_sandbox(redirect_uris=(REDIRECT_URI, other))

    response = sandbox.consent("ann@example.com", redirect_uri=other)

    assert response.headers["location"].startswith("http://127.0.0.1:9000/callback?tenant=a&")
    assert query_of(response)["code"]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"scope": "openid meetings:delete"}, "invalid_scope"),
        (
            {"code_challenge": Pkce.new().challenge, "code_challenge_method": "plain"},
            "invalid_request",
        ),
        ({"code_challenge": Pkce.new().challenge}, "invalid_request"),
        ({"code_challenge": "too-short", "code_challenge_method": "S256"}, "invalid_request"),
        ({"code_challenge_method": "S256"}, "invalid_request"),
        ({"login_hint": "not-an-email"}, "invalid_request"),
    ],
)
def test_bad_parameters_are_redirected_back_with_an_error(
    sandbox: Sandbox, overrides: dict[str, str | None], error: str
) -> None:
    response = sandbox.authorize(**overrides)

    assert response.status_code == 302
    assert response.headers["location"].startswith(REDIRECT_URI + "?")
    params = query_of(response)
    assert params["error"] == error
    assert params["error_description"]
    assert params["state"] == "state-123"
    assert params["iss"] == sandbox.url


def test_a_repeated_parameter_is_refused(sandbox: Sandbox) -> None:
    query = httpx.QueryParams(sandbox.authorize_params()).add("scope", "openid")

    response = sandbox.http.get("/oauth2/authorize", params=query)

    assert query_of(response)["error"] == "invalid_request"


def test_consent_page_names_the_app_and_lists_the_requested_scopes(sandbox: Sandbox) -> None:
    response = sandbox.authorize(scope="openid profile meetings:read")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert "Sandbox Partner App" in response.text
    for scope in ("openid", "profile", "meetings:read"):
        assert f"<code>{scope}</code>" in response.text
    assert "action-items:read" not in response.text


def test_consent_page_asks_for_an_email_and_offers_approve_and_deny(sandbox: Sandbox) -> None:
    page = sandbox.authorize().text

    assert 'type="email"' in email_input(page)
    assert "readonly" not in email_input(page)
    assert '<button type="submit" name="decision" value="approve">' in page
    assert 'name="decision" value="deny"' in page
    assert '<form method="post" action="/oauth2/consent">' in page


def test_consent_page_carries_the_authorize_parameters_as_hidden_fields(sandbox: Sandbox) -> None:
    params = sandbox.authorize_params(nonce="n-1", login_hint="ann@example.com")

    page = sandbox.authorize(nonce="n-1", login_hint="ann@example.com").text

    assert hidden_fields(page) == params


def test_login_hint_prefills_the_email_and_locks_it(sandbox: Sandbox) -> None:
    page = sandbox.authorize(login_hint="ann@example.com").text

    assert 'value="ann@example.com"' in email_input(page)
    assert "readonly" in email_input(page)


def test_consent_page_escapes_what_the_client_sent(sandbox: Sandbox) -> None:
    page = sandbox.authorize(state='"><script>alert(1)</script>').text

    assert "<script>" not in page
    assert "&#34;&gt;&lt;script&gt;" in page


def test_approving_redirects_with_a_code_the_state_and_the_issuer(sandbox: Sandbox) -> None:
    response = sandbox.consent("ann@example.com")

    assert response.status_code == 302
    params = query_of(response)
    assert set(params) == {"code", "state", "iss"}
    assert params["state"] == "state-123"
    assert params["iss"] == sandbox.url


def test_approving_without_state_sends_none_back(sandbox: Sandbox) -> None:
    response = sandbox.consent("ann@example.com", state=None)

    assert set(query_of(response)) == {"code", "iss"}


def test_first_sign_in_creates_the_user_with_a_personal_workspace(sandbox: Sandbox) -> None:
    assert sandbox.store.user_by_email("ann.lee@example.com") is None

    sandbox.consent("Ann.Lee@Example.com")

    user = sandbox.store.user_by_email("ann.lee@example.com")
    assert user is not None
    assert user.name == "Ann Lee"
    assert user.workspace_role == "WORKSPACE_OWNER"
    assert sandbox.store.workspace(user.workspace_id).name == "Ann's Workspace"


def test_signing_in_again_finds_the_same_user(sandbox: Sandbox) -> None:
    sandbox.consent("ann@example.com")
    sandbox.consent("ANN@example.com")

    assert [u.email for u in sandbox.store.users()].count("ann@example.com") == 1


def test_denying_redirects_with_access_denied(sandbox: Sandbox) -> None:
    response = sandbox.consent("ann@example.com", decision="deny")

    assert response.status_code == 302
    params = query_of(response)
    assert params["error"] == "access_denied"
    assert params["state"] == "state-123"
    assert "code" not in params
    assert sandbox.store.user_by_email("ann@example.com") is None


def test_approving_without_a_valid_email_shows_the_page_again(sandbox: Sandbox) -> None:
    response = sandbox.consent("not an email")

    assert response.status_code == 400
    assert "Enter a valid email address." in response.text
    assert "location" not in response.headers


def test_login_hint_wins_over_a_posted_email(sandbox: Sandbox) -> None:
    page = sandbox.authorize(login_hint="ann@example.com")
    form = {**hidden_fields(page.text), "email": "mallory@example.com", "decision": "approve"}

    sandbox.http.post("/oauth2/consent", data=form)

    assert sandbox.store.user_by_email("ann@example.com") is not None
    assert sandbox.store.user_by_email("mallory@example.com") is None


def test_consent_checks_the_redirect_uri_again(sandbox: Sandbox) -> None:
    page = sandbox.authorize()
    form = {**hidden_fields(page.text), "email": "ann@example.com", "decision": "approve"}
    form["redirect_uri"] = "https://evil.example/callback"

    response = sandbox.http.post("/oauth2/consent", data=form)

    assert response.status_code == 400
    assert "location" not in response.headers


def test_auto_approve_with_login_hint_skips_the_page_and_signs_in_that_user(
    start_sandbox: SandboxFactory,
) -> None:
    sandbox = start_sandbox(auto_approve=True)

    response = sandbox.authorize(login_hint="bob@example.com")

    assert response.status_code == 302
    tokens = sandbox.exchange(query_of(response)["code"]).json()
    profile = sandbox.api("/profile", tokens["access_token"]).json()
    assert profile["email"] == "bob@example.com"


def test_auto_approve_without_login_hint_signs_in_the_demo_user(
    start_sandbox: SandboxFactory,
) -> None:
    sandbox = start_sandbox(auto_approve=True)

    response = sandbox.authorize()

    tokens = sandbox.exchange(query_of(response)["code"]).json()
    profile = sandbox.api("/profile", tokens["access_token"]).json()
    assert profile["email"] == DEMO_EMAIL
    assert profile["display_name"] == "Demo User"


def test_auto_approve_still_refuses_an_unregistered_redirect_uri(
    start_sandbox: SandboxFactory,
) -> None:
    sandbox = start_sandbox(auto_approve=True)

    response = sandbox.authorize(redirect_uri="https://evil.example/callback")

    assert response.status_code == 400
    assert "location" not in response.headers
