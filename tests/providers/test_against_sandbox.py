"""The OAuth client against the Contio sandbox, over real loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gateway.providers import (
    ClientRejected,
    GrantRejected,
    InvalidIdToken,
    IssuerMismatch,
    OAuthClient,
    ProviderUnavailable,
    TokenSet,
    build_registry,
    code_challenge,
    new_code_verifier,
    new_nonce,
    new_state,
)
from gateway.providers.spender import OPERATOR
from gateway.settings import Settings, load_settings
from gateway_sandbox import SandboxOptions, create_sandbox_app
from tests.fixtures.servers import ServerThread, free_port, serving

REDIRECT = "http://127.0.0.1:8000/oauth/callback"
CLIENT_ID = "sandbox-client"
SECRET = "sandbox-secret"
ODD_SECRET = "s p@ce:+/%secret"  # RFC 6749 §2.3.1 form-encodes it inside the Basic header
EMAIL = "ada@example.com"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ServerThread]:
    options = SandboxOptions(
        client_id=CLIENT_ID,
        client_secrets=(SECRET, ODD_SECRET),
        redirect_uris=(REDIRECT,),
        auto_approve=True,
    )
    with serving(create_sandbox_app(options)) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=2.0)) as client:
        yield client


def contio_settings(auth_url: str, *, secret: str = SECRET, scopes: str | None = None) -> Settings:
    environ = {
        "GATEWAY_CONTIO_AUTH_URL": auth_url,
        "GATEWAY_CONTIO_API_URL": auth_url,
        "GATEWAY_CONTIO_CLIENT_ID": CLIENT_ID,
        "GATEWAY_CONTIO_CLIENT_SECRET": secret,
    }
    if scopes is not None:
        environ["GATEWAY_CONTIO_SCOPES"] = scopes
    return load_settings(environ)


@pytest.fixture
def contio(sandbox: ServerThread, http: httpx.AsyncClient) -> OAuthClient:
    return build_registry(contio_settings(sandbox.url), http).get(None)


async def authorize(
    client: OAuthClient, http: httpx.AsyncClient, *, scopes: Sequence[str] | None = None
) -> tuple[dict[str, str], str, str]:
    """Run the browser half; the callback's parameters, the code verifier and the nonce."""
    verifier, state, nonce = new_code_verifier(), new_state(), new_nonce()
    url = await client.authorization_url(
        redirect_uri=REDIRECT,
        state=state,
        code_challenge=code_challenge(verifier),
        nonce=nonce,
        scopes=scopes,
        login_hint=EMAIL,
    )
    response = await http.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    callback = {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
    assert callback["state"] == state
    return callback, verifier, nonce


async def sign_in(
    client: OAuthClient, http: httpx.AsyncClient, *, scopes: Sequence[str] | None = None
) -> tuple[TokenSet, str]:
    callback, verifier, nonce = await authorize(client, http, scopes=scopes)
    client.check_callback_issuer(callback.get("iss"))
    tokens = await client.exchange_code(
        code=callback["code"], redirect_uri=REDIRECT, code_verifier=verifier, spender=OPERATOR
    )
    return tokens, nonce


async def test_a_code_is_exchanged_for_contio_tokens(
    contio: OAuthClient, http: httpx.AsyncClient
) -> None:
    tokens, _ = await sign_in(contio, http)
    assert tokens.access_token.get_secret_value().startswith("cto_at_v1_")
    assert tokens.refresh_token is not None
    assert tokens.refresh_token.get_secret_value().startswith("cto_rt_v1_")
    assert tokens.id_token is not None
    assert tokens.expires_in == 86400
    assert tokens.scopes == contio.scopes
    assert tokens.token_type == "Bearer"


async def test_the_subject_is_the_id_token_sub(
    contio: OAuthClient, http: httpx.AsyncClient
) -> None:
    tokens, nonce = await sign_in(contio, http)
    subject = await contio.subject(tokens, nonce=nonce, spender=OPERATOR)
    info = await contio.userinfo(tokens.access_token.get_secret_value())
    assert subject == info["sub"]
    assert info["email"] == EMAIL


async def test_the_id_token_is_validated(contio: OAuthClient, http: httpx.AsyncClient) -> None:
    tokens, nonce = await sign_in(contio, http)
    assert tokens.id_token is not None
    claims = await contio.validate_id_token(tokens.id_token.get_secret_value(), nonce=nonce)
    assert (claims["iss"], claims["aud"], claims["nonce"]) == (contio.issuer, CLIENT_ID, nonce)
    with pytest.raises(InvalidIdToken, match="nonce"):
        await contio.validate_id_token(tokens.id_token.get_secret_value(), nonce="another")


async def test_a_code_cannot_be_used_twice(contio: OAuthClient, http: httpx.AsyncClient) -> None:
    callback, verifier, _ = await authorize(contio, http)
    await contio.exchange_code(
        code=callback["code"], redirect_uri=REDIRECT, code_verifier=verifier, spender=OPERATOR
    )
    with pytest.raises(GrantRejected) as caught:
        await contio.exchange_code(
            code=callback["code"], redirect_uri=REDIRECT, code_verifier=verifier, spender=OPERATOR
        )
    assert caught.value.oauth_error == "invalid_grant"
    assert callback["code"] not in caught.value.message


async def test_a_wrong_code_verifier_is_grant_rejected(
    contio: OAuthClient, http: httpx.AsyncClient
) -> None:
    callback, _, _ = await authorize(contio, http)
    with pytest.raises(GrantRejected):
        await contio.exchange_code(
            code=callback["code"],
            redirect_uri=REDIRECT,
            code_verifier=new_code_verifier(),
            spender=OPERATOR,
        )


async def test_refresh_rotates_and_the_old_refresh_token_is_rejected(
    contio: OAuthClient, http: httpx.AsyncClient
) -> None:
    tokens, _ = await sign_in(contio, http)
    assert tokens.refresh_token is not None
    old = tokens.refresh_token.get_secret_value()
    fresh = await contio.refresh(old, spender=OPERATOR)
    assert fresh.access_token != tokens.access_token
    assert fresh.refresh_token is not None
    assert fresh.refresh_token.get_secret_value() != old
    assert fresh.id_token is not None  # refreshed ID tokens carry no nonce
    await contio.validate_id_token(fresh.id_token.get_secret_value(), nonce=None)
    with pytest.raises(GrantRejected):
        await contio.refresh(old, spender=OPERATOR)


async def test_introspection_reports_active_tokens_until_revoked(
    contio: OAuthClient, http: httpx.AsyncClient
) -> None:
    tokens, nonce = await sign_in(contio, http)
    access = tokens.access_token.get_secret_value()
    info = await contio.introspect(access, spender=OPERATOR)
    assert info["active"] is True
    assert info["sub"] == await contio.subject(tokens, nonce=nonce, spender=OPERATOR)
    await contio.revoke(access, "access_token", spender=OPERATOR)
    assert (await contio.introspect(access, spender=OPERATOR))["active"] is False
    with pytest.raises(GrantRejected):
        await contio.userinfo(access)


async def test_revoking_the_refresh_token_ends_the_grant(
    contio: OAuthClient, http: httpx.AsyncClient
) -> None:
    tokens, _ = await sign_in(contio, http)
    assert tokens.refresh_token is not None
    await contio.revoke(tokens.refresh_token.get_secret_value(), "refresh_token", spender=OPERATOR)
    await contio.revoke(
        tokens.refresh_token.get_secret_value(), "refresh_token", spender=OPERATOR
    )  # idempotent
    with pytest.raises(GrantRejected):
        await contio.refresh(tokens.refresh_token.get_secret_value(), spender=OPERATOR)


async def test_without_openid_the_subject_comes_from_introspection(
    contio: OAuthClient, http: httpx.AsyncClient
) -> None:
    tokens, _ = await sign_in(contio, http, scopes=["meetings:read"])
    assert tokens.id_token is None
    reference, _ = await sign_in(contio, http)
    assert await contio.subject(tokens, nonce=None, spender=OPERATOR) == await contio.subject(
        reference, nonce=None, spender=OPERATOR
    )


async def test_the_callback_issuer_is_the_sandbox(
    contio: OAuthClient, http: httpx.AsyncClient
) -> None:
    callback, _, _ = await authorize(contio, http)
    contio.check_callback_issuer(callback["iss"])
    with pytest.raises(IssuerMismatch):
        contio.check_callback_issuer("https://auth.contio.ai")


async def test_a_retired_secret_falls_back_to_the_next(
    sandbox: ServerThread, http: httpx.AsyncClient
) -> None:
    settings = contio_settings(sandbox.url, secret=f"retired-secret,{SECRET}")
    client = build_registry(settings, http).get("contio")
    tokens, nonce = await sign_in(client, http)
    assert await client.subject(tokens, nonce=nonce, spender=OPERATOR)


async def test_a_secret_with_reserved_characters_authenticates(
    sandbox: ServerThread, http: httpx.AsyncClient
) -> None:
    client = build_registry(contio_settings(sandbox.url, secret=ODD_SECRET), http).get(None)
    tokens, _ = await sign_in(client, http)
    assert tokens.refresh_token is not None
    await client.refresh(tokens.refresh_token.get_secret_value(), spender=OPERATOR)


async def test_an_unknown_secret_is_client_rejected(
    sandbox: ServerThread, http: httpx.AsyncClient
) -> None:
    client = build_registry(contio_settings(sandbox.url, secret="wrong,also-wrong"), http).get(None)
    callback, verifier, _ = await authorize(client, http)
    with pytest.raises(ClientRejected) as caught:
        await client.exchange_code(
            code=callback["code"], redirect_uri=REDIRECT, code_verifier=verifier, spender=OPERATOR
        )
    assert caught.value.oauth_error == "invalid_client"
    assert "wrong" not in caught.value.message


async def test_an_unreachable_provider_is_unavailable(http: httpx.AsyncClient) -> None:
    client = build_registry(contio_settings(f"http://127.0.0.1:{free_port()}"), http).get(None)
    with pytest.raises(ProviderUnavailable, match="network error"):
        await client.refresh("cto_rt_v1_whatever", spender=OPERATOR)


def providers_file(tmp_path: Path, issuer: str) -> Settings:
    path = tmp_path / "providers.toml"
    path.write_text(
        f"""
[providers.sandbox]
issuer = "{issuer}"
api_base_url = "{issuer}/v1/partner/user"
client_id = "{CLIENT_ID}"
client_secret_env = "SANDBOX_SECRET"
token_endpoint_auth_method = "client_secret_post"
scopes = ["openid", "profile", "meetings:read"]
"""
    )
    return load_settings(
        {"GATEWAY_DEFAULT_PROVIDER": "sandbox"},
        providers_file=path,
        providers_allow_loopback_http=True,
    )


async def test_a_file_provider_discovers_the_sandbox(
    sandbox: ServerThread, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    settings = providers_file(tmp_path, sandbox.url)
    client = build_registry(settings, http, environ={"SANDBOX_SECRET": SECRET}).get(None)
    assert (client.name, client.issuer, client.pkce) == ("sandbox", sandbox.url, True)
    tokens, nonce = await sign_in(client, http)  # client_secret_post, endpoints discovered
    config = await client.load_config()
    assert config.userinfo_url == f"{sandbox.url}/oauth2/userInfo"
    assert config.jwks_uri == f"{sandbox.url}/.well-known/jwks.json"
    subject = await client.subject(
        tokens, nonce=nonce, spender=OPERATOR
    )  # ID token checked against the JWKS
    assert (await client.introspect(tokens.access_token.get_secret_value(), spender=OPERATOR))[
        "sub"
    ] == subject
    assert tokens.refresh_token is not None
    await client.revoke(tokens.refresh_token.get_secret_value(), "refresh_token", spender=OPERATOR)
    with pytest.raises(GrantRejected):
        await client.refresh(tokens.refresh_token.get_secret_value(), spender=OPERATOR)


async def test_a_failed_discovery_is_unavailable_and_retried(
    sandbox: ServerThread, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    settings = providers_file(tmp_path, f"{sandbox.url}/nowhere")
    client = build_registry(settings, http, environ={"SANDBOX_SECRET": SECRET}).get(None)
    for _ in range(2):  # nothing is cached after a failure
        with pytest.raises(ProviderUnavailable, match="discovery"):
            await client.authorization_url(
                redirect_uri=REDIRECT, state="s", code_challenge="c" * 43, nonce="n"
            )
