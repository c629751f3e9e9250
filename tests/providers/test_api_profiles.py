"""The providers file's profile options (``token_response``, an ``api_base_url`` template with
``allowed_hosts``, ``auth_header``): read into a provider's ``ApiProfile``, and each mistake
stopping start-up with the provider and the field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.providers.config import ProviderConfig
from gateway.providers.errors import ProviderError
from gateway.providers.profile import (
    DEFAULT_PROFILE,
    ApiBase,
    SettingNotAllowed,
    TokenResponseShape,
    host_allowed,
)
from gateway.providers.providers_file import load_providers_file
from gateway.providers.token_response import TokenSet
from gateway.settings import SettingsError

ENDPOINTS = """
authorize_url = "https://login.example/authorize"
token_url = "https://login.example/token"
client_id = "gw"
client_secret = "s"
"""
SALESFORCE = f"""
[providers.salesforce]
api_base_url = "{{instance_url}}/services/data/v60.0"
allowed_hosts = ["*.my.salesforce.com"]
{ENDPOINTS}
[providers.salesforce.token_response]
settings = ["instance_url"]
"""


def load(tmp_path: Path, text: str) -> ProviderConfig:
    path = tmp_path / "providers.toml"
    path.write_text(text)
    [config] = load_providers_file(path, {}).values()
    assert isinstance(config, ProviderConfig)
    return config


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, text)
    return str(caught.value)


def test_a_provider_without_profile_options_keeps_rfc_6749_and_6750(tmp_path: Path) -> None:
    config = load(tmp_path, f'[providers.plain]\napi_base_url = "https://api.example"\n{ENDPOINTS}')
    assert config.profile is DEFAULT_PROFILE
    assert config.profile.auth_header.header_value("t") == "Bearer t"


def test_a_salesforce_like_profile_resolves_only_to_its_allowed_hosts(tmp_path: Path) -> None:
    profile = load(tmp_path, SALESFORCE).profile
    assert profile.api_base is not None
    assert (
        profile.api_base.resolve({"instance_url": "https://acme.my.salesforce.com"})
        == "https://acme.my.salesforce.com/services/data/v60.0"
    )
    for instance in (
        "https://acme.example.com",  # another host
        "http://acme.my.salesforce.com",  # not https
        "https://my.salesforce.com",  # the pattern's parent
        "https://acme.my.salesforce.com.evil.example",
        "https://acme.my.salesforce.com@evil.example",  # credentials: the host is evil.example
        "https://evil.example/.my.salesforce.com",
        "https://acme.my.salesforce.com/x?y",  # a query
        "https://acme.my.salesforce.com/x#y",
        "https://acme.my.salesforce.com\\@evil.example",
        "",
    ):
        with pytest.raises(SettingNotAllowed):
            profile.check_settings({"instance_url": instance})
    with pytest.raises(SettingNotAllowed):
        profile.check_settings({})


def test_plain_http_is_allowed_on_loopback_only_when_the_profile_says_so() -> None:
    strict = ApiBase("{u}/api", ("127.0.0.1", "localhost"))
    loose = ApiBase("{u}/api", ("127.0.0.1", "localhost", "*.example"), plain_http_loopback=True)
    with pytest.raises(SettingNotAllowed):
        strict.resolve({"u": "http://127.0.0.1:8001"})
    assert loose.resolve({"u": "http://127.0.0.1:8001"}) == "http://127.0.0.1:8001/api"
    with pytest.raises(SettingNotAllowed):
        loose.resolve({"u": "http://a.example"})


def test_host_patterns_match_whole_hosts_in_any_case() -> None:
    assert host_allowed("NA1.My.Salesforce.com", ("*.my.salesforce.com",))
    assert host_allowed("a.b.my.salesforce.com.", ("*.my.salesforce.com",))
    assert not host_allowed("my.salesforce.com", ("*.my.salesforce.com",))
    assert not host_allowed("xmy.salesforce.com", ("*.my.salesforce.com",))


def test_the_token_response_says_where_the_tokens_and_settings_are() -> None:
    shape = TokenResponseShape(
        access_token="data.token",
        expires_in="data.ttl",
        refresh_token="data.renew",
        settings={"instance_url": "instance_url", "region": "data.where.region"},
    )
    body = {
        "data": {"token": "at", "ttl": "3600", "renew": "rt", "where": {"region": "eu"}},
        "instance_url": "https://acme.my.salesforce.com",
        "access_token": "not-this-one",
    }
    tokens = TokenSet.from_response(body, provider="p", shape=shape)
    assert tokens.access_token.get_secret_value() == "at"
    assert tokens.refresh_token is not None and tokens.refresh_token.get_secret_value() == "rt"
    assert tokens.expires_in == 3600
    assert dict(tokens.settings) == {
        "instance_url": "https://acme.my.salesforce.com",
        "region": "eu",
    }
    with pytest.raises(ProviderError):
        TokenSet.from_response({"access_token": "top"}, provider="p", shape=shape)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (
            f'[providers.t]\napi_base_url = "{{instance_url}}/x"\n{ENDPOINTS}'
            '[providers.t.token_response]\nsettings = ["instance_url"]\n',
            "give allowed_hosts",
        ),
        (
            f'[providers.t]\napi_base_url = "{{region}}/x"\nallowed_hosts = ["a.example"]\n'
            f'{ENDPOINTS}[providers.t.token_response]\nsettings = ["instance_url"]\n',
            "api_base_url names region",
        ),
        (
            f'[providers.t]\napi_base_url = "https://api.example"\nallowed_hosts = ["a.example"]\n'
            f"{ENDPOINTS}",
            "allowed_hosts applies to an api_base_url template only",
        ),
        (
            f'[providers.t]\napi_base_url = "{{u}}/x"\nallowed_hosts = ["https://a.example"]\n'
            f'{ENDPOINTS}[providers.t.token_response]\nsettings = ["u"]\n',
            "is not a host pattern",
        ),
        (
            f'[providers.t]\napi_base_url = "https://api.example"\n{ENDPOINTS}'
            '[providers.t.auth_header]\nheader = "Bad Header"\n',
            "is not a header name",
        ),
        (
            f'[providers.t]\napi_base_url = "https://api.example"\n{ENDPOINTS}'
            '[providers.t.auth_header]\nplace = "query"\n',
            "auth_header.place",
        ),
        (
            f'[providers.t]\napi_base_url = "https://api.example"\n{ENDPOINTS}'
            '[providers.t.token_response]\naccess_token = "data..token"\n',
            "token_response: 'data..token' is not a dotted path",
        ),
    ],
)
def test_a_malformed_profile_stops_start_up_naming_the_provider_and_the_field(
    tmp_path: Path, text: str, named: str
) -> None:
    message = refusal(tmp_path, text)
    assert "[providers.t]" in message
    assert named in message
