"""The registry: which providers exist, and which one is the default."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.providers import ProviderNotFound, build_registry
from gateway.settings import SettingsError, load_settings

CONTIO = {"GATEWAY_CONTIO_CLIENT_ID": "partner-app", "GATEWAY_CONTIO_CLIENT_SECRET": "s3cret"}
ACME = """
[providers.acme]
authorize_url = "https://acme.example/authorize"
token_url = "https://acme.example/token"
api_base_url = "https://api.acme.example"
client_id = "gw"
client_secret = "acme-secret"
"""


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def acme_file(tmp_path: Path) -> Path:
    path = tmp_path / "providers.toml"
    path.write_text(ACME)
    return path


def test_none_gets_the_default_provider(http: httpx.AsyncClient) -> None:
    registry = build_registry(load_settings(CONTIO), http)
    assert registry.default == "contio"
    assert registry.names == ("contio",)
    assert registry.get(None).name == "contio"
    assert registry.get("contio") is registry.get(None)


def test_an_unknown_name_is_provider_not_found(http: httpx.AsyncClient) -> None:
    registry = build_registry(load_settings(CONTIO), http)
    with pytest.raises(ProviderNotFound) as caught:
        registry.get("github")
    assert caught.value.code == "unknown_provider"
    assert caught.value.status_code == 400
    assert "contio" in caught.value.message


def test_unconfigured_contio_says_which_settings_are_unset(http: httpx.AsyncClient) -> None:
    registry = build_registry(load_settings({}), http)
    assert registry.names == ()
    for name in (None, "contio"):
        with pytest.raises(ProviderNotFound, match="GATEWAY_CONTIO_CLIENT_ID"):
            registry.get(name)


def test_file_providers_join_contio(http: httpx.AsyncClient, acme_file: Path) -> None:
    settings = load_settings(CONTIO, providers_file=acme_file)
    registry = build_registry(settings, http)
    assert registry.names == ("contio", "acme")
    assert registry.get("acme").api_base_url == "https://api.acme.example"


def test_the_default_may_be_a_file_provider(http: httpx.AsyncClient, acme_file: Path) -> None:
    settings = load_settings({"GATEWAY_DEFAULT_PROVIDER": "acme"}, providers_file=acme_file)
    assert build_registry(settings, http).get(None).name == "acme"


def test_an_unknown_default_is_a_settings_error(http: httpx.AsyncClient) -> None:
    settings = load_settings({**CONTIO, "GATEWAY_DEFAULT_PROVIDER": "acme"})
    with pytest.raises(SettingsError, match="GATEWAY_DEFAULT_PROVIDER"):
        build_registry(settings, http)
