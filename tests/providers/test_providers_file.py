"""Loading and checking the providers TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.providers.config import ProviderConfig
from gateway.providers.discovery import DiscoveredProvider, ServerMetadata
from gateway.providers.providers_file import load_providers_file
from gateway.settings import SettingsError

EXPLICIT = """
[providers.acme]
authorize_url = "https://acme.example/oauth/authorize"
token_url = "https://acme.example/oauth/token"
revocation_url = "https://acme.example/oauth/revoke"
introspection_url = "https://acme.example/oauth/introspect"
api_base_url = "https://api.acme.example/v2/"
client_id = "gw"
client_secret = "acme-secret"
scopes = ["read", "write"]
token_endpoint_auth_method = "client_secret_post"
pkce = false
authorize_params = { prompt = "consent" }
"""

DISCOVERED = """
[providers.okta]
issuer = "https://login.okta.example"
token_url = "https://proxy.okta.example/token"
api_base_url = "https://api.okta.example"
client_id = "gw"
client_secret_env = "OKTA_SECRETS"
scopes = ["openid", "profile"]
"""


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> dict[str, object]:
    path = tmp_path / "providers.toml"
    path.write_text(text)
    return dict(load_providers_file(path, environ or {}))


def test_explicit_endpoints_make_a_complete_config(tmp_path: Path) -> None:
    config = load(tmp_path, EXPLICIT)["acme"]
    assert isinstance(config, ProviderConfig)
    assert config.authorize_url == "https://acme.example/oauth/authorize"
    assert config.revocation_url == "https://acme.example/oauth/revoke"
    assert config.userinfo_url is None
    assert config.issuer is None
    assert config.api_base_url == "https://api.acme.example/v2"
    assert [s.get_secret_value() for s in config.client_secrets] == ["acme-secret"]
    assert config.scopes == ("read", "write")
    assert config.token_endpoint_auth_method == "client_secret_post"
    assert not config.pkce
    assert dict(config.authorize_params) == {"prompt": "consent"}


def test_an_issuer_defers_to_discovery_and_explicit_endpoints_win(tmp_path: Path) -> None:
    source = load(tmp_path, DISCOVERED, {"OKTA_SECRETS": "new,old"})["okta"]
    assert isinstance(source, DiscoveredProvider)
    assert (source.issuer, source.scopes) == ("https://login.okta.example", ("openid", "profile"))
    assert source.pkce
    metadata = ServerMetadata(
        issuer="https://login.okta.example",
        authorization_endpoint="https://login.okta.example/authorize",
        token_endpoint="https://login.okta.example/token",
        jwks_uri="https://login.okta.example/keys",
    )
    config = source.build(metadata)
    assert config.authorize_url == "https://login.okta.example/authorize"
    assert config.token_url == "https://proxy.okta.example/token"
    assert config.jwks_uri == "https://login.okta.example/keys"
    assert config.revocation_url is None
    assert [s.get_secret_value() for s in config.client_secrets] == ["new", "old"]


def test_client_secret_may_be_a_list(tmp_path: Path) -> None:
    text = EXPLICIT.replace('client_secret = "acme-secret"', 'client_secret = ["new", "old"]')
    config = load(tmp_path, text)["acme"]
    assert isinstance(config, ProviderConfig)
    assert [s.get_secret_value() for s in config.client_secrets] == ["new", "old"]


def test_providers_keep_file_order(tmp_path: Path) -> None:
    text = DISCOVERED + EXPLICIT
    assert list(load(tmp_path, text, {"OKTA_SECRETS": "x"})) == ["okta", "acme"]


def test_an_empty_file_has_no_providers(tmp_path: Path) -> None:
    assert load(tmp_path, "") == {}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("pkce = false", "pkce = false\ncolour = 'blue'"), "colour"),
        (('client_id = "gw"\n', ""), "client_id"),
        (('api_base_url = "https://api.acme.example/v2/"\n', ""), "api_base_url"),
        (("client_secret_post", "private_key_jwt"), "token_endpoint_auth_method"),
        (('"https://acme.example/oauth/token"', '"/oauth/token"'), "token_url"),
        (('token_url = "https://acme.example/oauth/token"\n', ""), "authorize_url and token_url"),
        (('scopes = ["read", "write"]', 'scopes = ["read write"]'), "scopes"),
        (('scopes = ["read", "write"]', 'scopes = "read write"'), "scopes"),
        (('prompt = "consent"', 'state = "fixed"'), "authorize_params"),
        (('client_secret = "acme-secret"', 'client_secret_env = "X"\nclient_secret = "s"'),
         "exactly one"),
        (('client_secret = "acme-secret"\n', ""), "exactly one"),
        (('client_secret = "acme-secret"', 'client_secret = ""'), "client_secret is empty"),
        (('scopes = ["read", "write"]', 'scopes = ["openid"]'), "issuer"),
        (("pkce = false", 'pkce = false\ngrant_types = ["password"]'), "RFC 9700"),
        (("pkce = false", 'pkce = false\ngrant_types = ["implicit"]'), "grant_types"),
        (("pkce = false", "pkce = false\ngrant_types = []"), "grant_types"),
    ],
)  # fmt: skip
def test_mistakes_name_the_provider_and_field(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in EXPLICIT
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, EXPLICIT.replace(old, new))
    assert "[providers.acme]" in str(caught.value) or "'acme'" in str(caught.value)
    assert message in str(caught.value)


def test_secrets_never_appear_in_errors(tmp_path: Path) -> None:
    text = EXPLICIT.replace("pkce = false", "pkce = 'acme-secret'")
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, text)
    assert "acme-secret" not in str(caught.value)


def test_an_unset_secret_variable_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="OKTA_SECRETS"):
        load(tmp_path, DISCOVERED, {})


def test_contio_is_reserved(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="reserved"):
        load(tmp_path, EXPLICIT.replace("[providers.acme]", "[providers.contio]"))


def test_names_are_simple(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="name"):
        load(tmp_path, EXPLICIT.replace("[providers.acme]", '[providers."Acme Corp"]'))


def test_unknown_top_level_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="provider"):
        load(tmp_path, "[acme]\nclient_id = 'x'\n")


def test_invalid_toml_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not valid TOML"):
        load(tmp_path, "[providers.acme\n")


def test_a_missing_file_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        load_providers_file(tmp_path / "absent.toml", {})


def test_a_client_credentials_provider_needs_no_authorize_url(tmp_path: Path) -> None:
    text = EXPLICIT.replace('authorize_url = "https://acme.example/oauth/authorize"\n', "")
    text = text.replace("pkce = false", 'pkce = false\ngrant_types = ["client_credentials"]')

    config = load(tmp_path, text)["acme"]

    assert isinstance(config, ProviderConfig)
    assert config.grant_types == ("client_credentials",)
    assert load(tmp_path, EXPLICIT)["acme"].grant_types == (  # type: ignore[attr-defined]
        "authorization_code",
        "refresh_token",
    )
