"""Contio's built-in config, made from GATEWAY_CONTIO_* settings."""

from __future__ import annotations

import pytest

from gateway.providers.contio import contio_config
from gateway.settings import CONTIO_DEFAULT_SCOPES, SettingsError, load_settings

CREDENTIALS = {"GATEWAY_CONTIO_CLIENT_ID": "partner-app", "GATEWAY_CONTIO_CLIENT_SECRET": "s3cret"}


def test_defaults_point_at_contio_production() -> None:
    config = contio_config(load_settings(CREDENTIALS))
    assert config is not None
    assert config.name == "contio"
    assert config.authorize_url == "https://auth.contio.ai/oauth2/authorize"
    assert config.token_url == "https://auth.contio.ai/oauth2/token"
    assert config.revocation_url == "https://auth.contio.ai/oauth2/revoke"
    assert config.introspection_url == "https://auth.contio.ai/oauth2/introspect"
    assert config.userinfo_url == "https://auth.contio.ai/oauth2/userInfo"
    assert config.jwks_uri == "https://auth.contio.ai/.well-known/jwks.json"
    assert config.issuer == "https://auth.contio.ai"
    assert config.api_base_url == "https://api.contio.ai/v1/partner/user"
    assert config.client_id == "partner-app"
    assert [s.get_secret_value() for s in config.client_secrets] == ["s3cret"]
    assert config.scopes == tuple(CONTIO_DEFAULT_SCOPES.split())
    assert config.token_endpoint_auth_method == "client_secret_basic"
    assert config.pkce


def test_urls_follow_the_settings() -> None:
    settings = load_settings(
        {
            **CREDENTIALS,
            "GATEWAY_CONTIO_AUTH_URL": "http://127.0.0.1:9000/",
            "GATEWAY_CONTIO_API_URL": "http://127.0.0.1:9001",
            "GATEWAY_CONTIO_SCOPES": "openid  meetings:read",
        }
    )
    config = contio_config(settings)
    assert config is not None
    assert config.token_url == "http://127.0.0.1:9000/oauth2/token"
    assert config.issuer == "http://127.0.0.1:9000"
    assert config.api_base_url == "http://127.0.0.1:9001/v1/partner/user"
    assert config.scopes == ("openid", "meetings:read")


def test_the_secret_is_a_comma_list() -> None:
    settings = load_settings({**CREDENTIALS, "GATEWAY_CONTIO_CLIENT_SECRET": "new, old ,"})
    config = contio_config(settings)
    assert config is not None
    assert [s.get_secret_value() for s in config.client_secrets] == ["new", "old"]


def test_unconfigured_contio_is_none() -> None:
    assert contio_config(load_settings({})) is None


@pytest.mark.parametrize("missing", ["GATEWAY_CONTIO_CLIENT_ID", "GATEWAY_CONTIO_CLIENT_SECRET"])
def test_half_a_client_is_a_settings_error(missing: str) -> None:
    environ = {key: value for key, value in CREDENTIALS.items() if key != missing}
    with pytest.raises(SettingsError, match=missing):
        contio_config(load_settings(environ))


def test_a_secret_of_only_commas_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="no secret"):
        contio_config(load_settings({**CREDENTIALS, "GATEWAY_CONTIO_CLIENT_SECRET": " , "}))


@pytest.mark.parametrize(
    "url",
    [
        "https://auth.contio.ai/oauth2",
        "https://auth.contio.ai?x=1",
        "auth.contio.ai",
        "ftp://auth.contio.ai",
        "https://user:pw@auth.contio.ai",
    ],
)
@pytest.mark.parametrize("setting", ["GATEWAY_CONTIO_AUTH_URL", "GATEWAY_CONTIO_API_URL"])
def test_urls_must_be_origins(setting: str, url: str) -> None:
    with pytest.raises(SettingsError, match=setting):
        contio_config(load_settings({**CREDENTIALS, setting: url}))


def test_the_secret_is_not_in_the_repr() -> None:
    config = contio_config(load_settings(CREDENTIALS))
    assert "s3cret" not in repr(config)
