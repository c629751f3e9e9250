"""Providers that take stored credentials in the providers file (``auth_mode``,
``credential_header``, ``verification``), and how a credential is injected and excerpted."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.providers.config import ProviderConfig
from gateway.providers.credential_profile import (
    CredentialProfile,
    StoredCredential,
    Verification,
    excerpt,
    injected,
)
from gateway.providers.profile import AuthHeader
from gateway.providers.providers_file import load_providers_file
from gateway.settings import SettingsError

KEYED = """
[providers.keyed]
api_base_url = "https://api.keyed.example/v1/"
auth_mode = "header"
credential_header = "X-Api-Key"
verification = { method = "HEAD", path = "/me?full=1", expect_status = 204 }
"""


def load(tmp_path: Path, text: str) -> dict[str, object]:
    path = tmp_path / "providers.toml"
    path.write_text(text)
    return dict(load_providers_file(path, {}))


def test_a_stored_credential_provider_needs_no_oauth_settings(tmp_path: Path) -> None:
    config = load(tmp_path, KEYED)["keyed"]
    assert isinstance(config, ProviderConfig)
    assert config.api_base_url == "https://api.keyed.example/v1"
    assert config.credentials == CredentialProfile(
        kind="header",
        header_name="X-Api-Key",
        verification=Verification("HEAD", "/me?full=1", 204),
    )


def test_verification_defaults_to_get_200(tmp_path: Path) -> None:
    text = KEYED.replace('method = "HEAD", ', "").replace(", expect_status = 204", "")
    config = load(tmp_path, text)["keyed"]
    assert isinstance(config, ProviderConfig) and config.credentials is not None
    assert config.credentials.verification == Verification("GET", "/me?full=1", 200)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('auth_mode = "header"', 'auth_mode = "header"\nclient_id = "gw"'), "client_id"),
        (('auth_mode = "header"', 'auth_mode = "header"\nscopes = ["a"]'), "scopes"),
        (('credential_header = "X-Api-Key"\n', ""), "credential_header"),
        (('auth_mode = "header"', 'auth_mode = "api_key"'), "credential_header"),
        (('"X-Api-Key"', '"X-Request-Id"'), "credential_header"),
        (('"X-Api-Key"', '"X Api"'), "credential_header"),
        (('auth_mode = "header"', 'auth_mode = "password"'), "auth_mode"),
        (('path = "/me?full=1"', 'path = "me"'), "verification"),
        (("expect_status = 204", "expect_status = 401"), "verification"),
        (('method = "HEAD"', 'method = "DELETE"'), "verification"),
        (('expect_status = 204 }', 'expect_status = 204, body = "x" }'), "verification"),
        (('auth_mode = "header"', 'auth_mode = "header"\nauth_header = { scheme = "" }'), "auth_header"),
        (('auth_mode = "header"', 'auth_mode = "header"\ntoken_response = { settings = ["a"] }'), "token_response"),
        (('https://api.keyed.example/v1/', '{instance_url}/v1'), "api_base_url"),
    ],
)  # fmt: skip
def test_mistakes_name_the_provider_and_field(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in KEYED
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, KEYED.replace(old, new))
    assert "[providers.keyed]" in str(caught.value)
    assert message in str(caught.value)


def test_an_api_key_takes_auth_header(tmp_path: Path) -> None:
    text = KEYED.replace('auth_mode = "header"', 'auth_mode = "api_key"').replace(
        'credential_header = "X-Api-Key"', 'auth_header = { query_param = "api_key" }'
    )
    config = load(tmp_path, text)["keyed"]
    assert isinstance(config, ProviderConfig)
    assert config.profile.auth_header.query_param == "api_key"


def test_an_oauth_provider_takes_no_verification(tmp_path: Path) -> None:
    text = """
[providers.acme]
authorize_url = "https://acme.example/oauth/authorize"
token_url = "https://acme.example/oauth/token"
api_base_url = "https://api.acme.example"
client_id = "gw"
client_secret = "s"
verification = { path = "/me" }
"""
    with pytest.raises(SettingsError, match="auth_mode"):
        load(tmp_path, text)


def test_each_kind_is_injected_as_its_profile_says() -> None:
    header = CredentialProfile("header", "X-Api-Key", None)
    key = SecretStr("k-1")
    assert injected("tok", None) == ("Authorization", "Bearer tok", False)
    assert injected(StoredCredential("api_key", key), None) == (
        "Authorization",
        "Bearer k-1",
        False,
    )
    assert injected(StoredCredential("header", key), header) == ("X-Api-Key", "k-1", False)
    name, value, in_query = injected(StoredCredential("basic", SecretStr("p:w"), "ada"), None)
    assert (name, in_query) == ("Authorization", False)
    assert base64.b64decode(value.removeprefix("Basic ")) == b"ada:p:w"


def test_an_access_token_and_an_api_key_go_as_auth_header_says() -> None:
    key = StoredCredential("api_key", SecretStr("k-1"))
    in_header = AuthHeader(header="X-Api-Key", scheme="")
    in_query = AuthHeader(query_param="api_key")
    assert injected(key, None, in_header) == ("X-Api-Key", "k-1", False)
    assert injected("tok", None, AuthHeader(scheme="token")) == (
        "Authorization",
        "token tok",
        False,
    )
    assert injected(key, None, in_query) == ("api_key", "k-1", True)
    assert injected("tok", None, in_query) == ("api_key", "tok", True)


def test_a_credential_prints_as_stars_and_opens_as_sealed() -> None:
    credential = StoredCredential("basic", SecretStr("hunter2"), "ada")
    assert "hunter2" not in repr(credential)
    assert StoredCredential.opened("basic", credential.plaintext()) == credential


def test_an_excerpt_is_short_printable_and_never_the_secret() -> None:
    credential = StoredCredential("api_key", SecretStr("sk_secret_value"))
    text = '{"error": "bad key sk_secret_value"}\n\x00' + "x" * 500
    shown = excerpt(text, credential)
    assert "sk_secret_value" not in shown
    assert "***" in shown
    assert len(shown) <= 203 and "\x00" not in shown
