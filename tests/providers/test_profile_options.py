"""The provider profile's options in the providers file: each read into the config, each mistake
refused when the file is read (start-up), naming the provider and the field."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.providers.config import ProviderConfig
from gateway.providers.providers_file import load_providers_file
from gateway.providers.registry import build_registry, require_providers
from gateway.settings import SettingsError, load_settings

BASE = """
[providers.acme]
authorize_url = "https://acme.example/oauth/authorize"
token_url = "https://acme.example/oauth/token"
api_base_url = "https://api.acme.example/v2"
client_id = "gw"
scopes = ["read", "write"]
"""
SECRET = 'client_secret = "acme-secret"\n'


def pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="module")
def ec_pem() -> str:
    return pem(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="module")
def rsa_pem() -> str:
    return pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def load(
    tmp_path: Path, text: str, environ: dict[str, str] | None = None, **options: bool
) -> ProviderConfig:
    path = tmp_path / "providers.toml"
    path.write_text(text)
    config = load_providers_file(path, environ or {}, **options)["acme"]
    assert isinstance(config, ProviderConfig)
    return config


def refused(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, text, environ)
    message = str(caught.value)
    assert "acme" in message
    return message


def test_a_profile_without_options_keeps_todays_behaviour(tmp_path: Path) -> None:
    config = load(tmp_path, BASE + SECRET)
    assert config.scope_separator == " "
    assert dict(config.token_params) == {} and dict(config.refresh_params) == {}
    assert config.refresh.rotates and config.refresh.default_lifetime_seconds is None
    assert config.token_endpoint_auth_method == "client_secret_basic"
    assert config.client_key is None


def test_every_option_is_read(tmp_path: Path) -> None:
    text = (
        BASE
        + SECRET
        + (
            'scope_separator = ","\n'
            'token_params = { audience = "https://api.acme.example" }\n'
            'refresh_params = { resource = "https://api.acme.example" }\n'
            "refresh = { rotates = false, default_lifetime_seconds = 43200 }\n"
        )
    )
    config = load(tmp_path, text)
    assert config.scope_separator == ","
    assert dict(config.token_params) == {"audience": "https://api.acme.example"}
    assert dict(config.refresh_params) == {"resource": "https://api.acme.example"}
    assert not config.refresh.rotates
    assert config.refresh.default_lifetime_seconds == 43200


def test_private_key_jwt_reads_the_key_from_a_file(tmp_path: Path, ec_pem: str) -> None:
    (tmp_path / "key.pem").write_text(ec_pem)
    text = BASE + (
        'token_endpoint_auth_method = "private_key_jwt"\n'
        f'client_key = {{ file = "{tmp_path / "key.pem"}", algorithm = "ES256", kid = "gw-1" }}\n'
    )
    config = load(tmp_path, text)
    assert config.client_key is not None
    assert (config.client_key.kid, config.client_key.algorithm) == ("gw-1", "ES256")
    assert config.client_secrets == ()
    assert "PRIVATE" not in repr(config) and "***" in repr(config.client_key)


def test_private_key_jwt_reads_the_key_from_the_environment(tmp_path: Path, rsa_pem: str) -> None:
    text = BASE + (
        'token_endpoint_auth_method = "private_key_jwt"\n'
        'client_key = { env = "ACME_KEY", algorithm = "PS256" }\n'
    )
    config = load(tmp_path, text, {"ACME_KEY": rsa_pem})
    assert config.client_key is not None
    assert config.client_key.algorithm == "PS256"
    assert config.client_key.kid  # the key's thumbprint when none is given


def test_a_public_client_has_no_secret(tmp_path: Path) -> None:
    config = load(tmp_path, BASE + 'token_endpoint_auth_method = "none"\n')
    assert config.token_endpoint_auth_method == "none"
    assert config.client_secrets == () and config.pkce


@pytest.mark.parametrize(
    ("addition", "field"),
    [
        ('scope_separator = "x"\n', "scope_separator"),
        ('scope_separator = ""\n', "scope_separator"),
        ('scope_separator = ","\nscopes = ["read,write"]\n', "scopes"),
        ('token_params = { grant_type = "password" }\n', "token_params"),
        ('token_params = { client_secret = "x" }\n', "token_params"),
        ('refresh_params = { refresh_token = "x" }\n', "refresh_params"),
        ("refresh_params = { n = 1 }\n", "refresh_params"),
        ("refresh = { rotates = false, lifetime = 5 }\n", "refresh"),
        ("refresh = { default_lifetime_seconds = 0 }\n", "refresh.default_lifetime_seconds"),
        ('token_endpoint_auth_method = "client_secret_jwt"\n', "token_endpoint_auth_method"),
        ('client_key = { env = "K" }\n', "client_key"),
    ],
)
def test_a_malformed_option_stops_start_up(tmp_path: Path, addition: str, field: str) -> None:
    text = BASE.replace('scopes = ["read", "write"]\n', "") if "scopes =" in addition else BASE
    assert field in refused(tmp_path, text + SECRET + addition)


@pytest.mark.parametrize(
    ("addition", "field"),
    [
        ("", "client_key"),  # private_key_jwt without a key
        (SECRET + 'client_key = { env = "K" }\n', "client secret"),
        ('client_key = { env = "K", file = "k.pem" }\n', "exactly one of file and env"),
        ('client_key = { env = "UNSET" }\n', "client_key.env"),
        ('client_key = { file = "/nonexistent/key.pem" }\n', "client_key.file"),
        ('client_key = { env = "NOT_PEM" }\n', "client_key.env"),
        ('client_key = { env = "K", algorithm = "HS256" }\n', "client_key.algorithm"),
        ('client_key = { env = "K", algorithm = "RS256" }\n', "RSA"),  # K is an EC key
    ],
)
def test_a_malformed_private_key_jwt_stops_start_up(
    tmp_path: Path, ec_pem: str, addition: str, field: str
) -> None:
    text = BASE + 'token_endpoint_auth_method = "private_key_jwt"\n' + addition
    message = refused(tmp_path, text, {"K": ec_pem, "NOT_PEM": "hello"})
    assert field in message
    assert "PRIVATE KEY" not in message


def test_es256_needs_an_ec_key(tmp_path: Path, rsa_pem: str) -> None:
    text = BASE + (
        'token_endpoint_auth_method = "private_key_jwt"\n'
        'client_key = { env = "K", algorithm = "ES256" }\n'
    )
    assert "EC" in refused(tmp_path, text, {"K": rsa_pem})


def test_a_public_client_without_pkce_stops_start_up(tmp_path: Path) -> None:
    text = BASE + 'token_endpoint_auth_method = "none"\npkce = false\n'
    assert "pkce" in refused(tmp_path, text)


def test_a_public_client_with_a_secret_stops_start_up(tmp_path: Path) -> None:
    text = BASE + 'token_endpoint_auth_method = "none"\n' + SECRET
    assert "no client secret" in refused(tmp_path, text)


def test_a_client_key_needs_private_key_jwt(tmp_path: Path, ec_pem: str) -> None:
    text = BASE + SECRET + 'client_key = { env = "K", algorithm = "ES256" }\n'
    assert "client_key" in refused(tmp_path, text, {"K": ec_pem})


def test_plain_http_is_refused_by_default(tmp_path: Path) -> None:
    text = BASE.replace("https://acme.example", "http://127.0.0.1:9") + SECRET
    assert "token_url" in refused(tmp_path, text)


def test_plain_http_is_accepted_for_loopback_only_when_allowed(tmp_path: Path) -> None:
    loopback = BASE.replace("https://acme.example", "http://127.0.0.1:9") + SECRET
    config = load(tmp_path, loopback, allow_loopback_http=True)
    assert config.token_url == "http://127.0.0.1:9/oauth/token"
    elsewhere = BASE.replace("https://acme.example", "http://acme.example") + SECRET
    with pytest.raises(SettingsError, match="https"):
        load(tmp_path, elsewhere, allow_loopback_http=True)


def test_start_up_stops_on_a_malformed_profile(tmp_path: Path) -> None:
    path = tmp_path / "providers.toml"
    path.write_text(BASE + SECRET + 'scope_separator = "x"\n')
    settings = load_settings({"GATEWAY_DEFAULT_PROVIDER": "acme"}, providers_file=path)
    with pytest.raises(SettingsError) as caught:
        require_providers(settings)
    assert "[providers.acme]" in str(caught.value) and "scope_separator" in str(caught.value)


def test_the_setting_allows_loopback_http(tmp_path: Path) -> None:
    path = tmp_path / "providers.toml"
    path.write_text(BASE.replace("https://acme.example", "http://127.0.0.1:9") + SECRET)
    environ = {"GATEWAY_DEFAULT_PROVIDER": "acme", "GATEWAY_PROVIDERS_ALLOW_LOOPBACK_HTTP": "true"}
    require_providers(load_settings(environ, providers_file=path))
    environ.pop("GATEWAY_PROVIDERS_ALLOW_LOOPBACK_HTTP")
    with pytest.raises(SettingsError, match="https"):
        require_providers(load_settings(environ, providers_file=path))


async def test_the_registry_publishes_each_client_key_once(tmp_path: Path, ec_pem: str) -> None:
    (tmp_path / "key.pem").write_text(ec_pem)
    key = f'client_key = {{ file = "{tmp_path / "key.pem"}", algorithm = "ES256", kid = "gw-1" }}\n'
    jwt_table = BASE + 'token_endpoint_auth_method = "private_key_jwt"\n' + key
    other = jwt_table.replace("[providers.acme]", "[providers.other]")
    plain = BASE.replace("[providers.acme]", "[providers.plain]") + SECRET
    path = tmp_path / "providers.toml"
    path.write_text(jwt_table + other + plain)
    settings = load_settings({"GATEWAY_DEFAULT_PROVIDER": "acme"}, providers_file=path)
    async with httpx.AsyncClient() as http:
        [published] = build_registry(settings, http).public_keys()
    assert published["kid"] == "gw-1" and "d" not in published
