"""The URL the user's browser is sent to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gateway.providers import OAuthClient
from tests.providers.factories import CLIENT_ID, ISSUER, make_config

REDIRECT = "https://gateway.example/oauth/callback"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:  # never used: nothing here goes on the network
        yield client


async def url_params(
    http: httpx.AsyncClient, *, config: Any = None, **kwargs: Any
) -> dict[str, str]:
    client = OAuthClient(config or make_config(), http)
    arguments: dict[str, Any] = {
        "redirect_uri": REDIRECT,
        "state": "the-state",
        "code_challenge": "the-challenge",
        "nonce": "the-nonce",
        **kwargs,
    }
    url = await client.authorization_url(**arguments)
    assert url.startswith(f"{ISSUER}/authorize?")
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert all(len(values) == 1 for values in query.values()), "no parameter is repeated"
    return {name: values[0] for name, values in query.items()}


async def test_carries_the_code_flow_parameters(http: httpx.AsyncClient) -> None:
    params = await url_params(http)
    assert params == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": "openid profile",
        "state": "the-state",
        "nonce": "the-nonce",
        "code_challenge": "the-challenge",
        "code_challenge_method": "S256",
    }


async def test_spaces_in_scope_are_encoded_as_plus(http: httpx.AsyncClient) -> None:
    client = OAuthClient(make_config(), http)
    url = await client.authorization_url(
        redirect_uri=REDIRECT, state="s", code_challenge="c", nonce="n"
    )
    assert "scope=openid+profile" in url


async def test_login_hint_and_extra_params_are_added(http: httpx.AsyncClient) -> None:
    config = make_config(authorize_params={"prompt": "consent", "access_type": "offline"})
    params = await url_params(http, config=config, login_hint="ada@example.com")
    assert params["login_hint"] == "ada@example.com"
    assert (params["prompt"], params["access_type"]) == ("consent", "offline")


async def test_requested_scopes_replace_the_configured_ones(http: httpx.AsyncClient) -> None:
    params = await url_params(http, scopes=["meetings:read"], nonce=None)
    assert params["scope"] == "meetings:read"
    assert "nonce" not in params


async def test_without_pkce_no_challenge_is_sent(http: httpx.AsyncClient) -> None:
    params = await url_params(http, config=make_config(pkce=False))
    assert "code_challenge" not in params
    assert "code_challenge_method" not in params


async def test_without_scopes_no_scope_parameter(http: httpx.AsyncClient) -> None:
    params = await url_params(http, config=make_config(scopes=()), nonce=None)
    assert "scope" not in params


async def test_a_query_in_the_authorize_url_is_kept(http: httpx.AsyncClient) -> None:
    config = make_config(authorize_url=f"{ISSUER}/authorize?tenant=blue")
    params = await url_params(http, config=config)
    assert params["tenant"] == "blue"


async def test_pkce_provider_requires_a_challenge(http: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="code_challenge"):
        await url_params(http, code_challenge=None)


async def test_openid_request_requires_a_nonce(http: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="nonce"):
        await url_params(http, nonce=None)


async def test_uses_openid_follows_the_configured_scopes(http: httpx.AsyncClient) -> None:
    assert OAuthClient(make_config(), http).uses_openid
    assert not OAuthClient(make_config(scopes=("meetings:read",)), http).uses_openid


async def test_callback_issuer_must_match_when_present(http: httpx.AsyncClient) -> None:
    from gateway.providers import IssuerMismatch, ProviderError

    client = OAuthClient(make_config(), http)
    client.check_callback_issuer(None)
    client.check_callback_issuer(ISSUER)
    with pytest.raises(IssuerMismatch) as caught:
        client.check_callback_issuer("https://evil.example")
    assert isinstance(caught.value, ProviderError)
    assert caught.value.code == "issuer_mismatch"
