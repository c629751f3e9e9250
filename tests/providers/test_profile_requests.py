"""What the OAuth client sends and reads under each profile option. A narrow unit test of request
shaping through httpx.MockTransport; the same options run end to end against the sandbox in
test_profiles_end_to_end."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.providers.client_key import ASSERTION_TYPE, ClientKey
from gateway.providers.config import RefreshProfile
from gateway.providers.spender import OPERATOR
from tests.providers.factories import CLIENT_ID, ISSUER, SECRET, Handler, mock_client

Seen = list[httpx.Request]


def form(request: httpx.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.content.decode()).items()}


def recorder(seen: Seen, body: dict[str, object]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=body)

    return handler


def ec_key() -> ClientKey:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ClientKey.from_pem(pem, "ES256", "gw-1")


async def test_scopes_are_joined_with_the_separator() -> None:
    client, http = mock_client(recorder([], {}), scope_separator=",", scopes=("a:read", "b"))
    async with http:
        url = await client.authorization_url(
            redirect_uri="https://gw/cb", state="s", code_challenge="c" * 43, nonce=None
        )
    assert parse_qs(urlsplit(url).query)["scope"] == ["a:read,b"]


async def test_token_params_go_with_the_code_and_refresh_params_with_the_refresh() -> None:
    seen: Seen = []
    tokens = {"access_token": "at", "refresh_token": "rt", "expires_in": 60}
    client, http = mock_client(
        recorder(seen, tokens),
        token_params={"audience": "api"},
        refresh_params={"resource": "r"},
        pkce=False,
    )
    async with http:
        await client.exchange_code(
            code="c", redirect_uri="https://gw/cb", code_verifier=None, spender=OPERATOR
        )
        await client.refresh("rt", spender=OPERATOR)
    exchange, refresh = (form(request) for request in seen)
    assert exchange["audience"] == "api" and "resource" not in exchange
    assert refresh["resource"] == "r" and "audience" not in refresh


async def test_a_comma_scope_answer_and_a_default_lifetime_are_read() -> None:
    client, http = mock_client(
        recorder([], {"access_token": "at", "scope": "a:read,b"}),
        scope_separator=",",
        refresh=RefreshProfile(rotates=False, default_lifetime_seconds=7200),
    )
    async with http:
        tokens = await client.refresh("rt", spender=OPERATOR)
    assert tokens.scopes == ("a:read", "b")
    assert tokens.expires_in == 7200
    assert tokens.refresh_token is not None and tokens.refresh_token.get_secret_value() == "rt"


async def test_private_key_jwt_sends_a_signed_assertion_and_no_secret() -> None:
    seen: Seen = []
    key = ec_key()
    client, http = mock_client(
        recorder(seen, {"access_token": "at"}),
        token_endpoint_auth_method="private_key_jwt",
        client_secrets=(),
        client_key=key,
    )
    async with http:
        await client.refresh("rt", spender=OPERATOR)
        await client.revoke("rt", "refresh_token", spender=OPERATOR)
    for request in seen:
        sent = form(request)
        assert "authorization" not in request.headers
        assert SECRET not in request.content.decode() and "client_secret" not in sent
        assert sent["client_id"] == CLIENT_ID
        assert sent["client_assertion_type"] == ASSERTION_TYPE
    first, second = (form(request)["client_assertion"] for request in seen)
    assert first != second  # a fresh assertion (and jti) for every request


async def test_a_public_client_sends_its_id_only() -> None:
    seen: Seen = []
    client, http = mock_client(
        recorder(seen, {"access_token": "at"}),
        token_endpoint_auth_method="none",
        client_secrets=(),
    )
    async with http:
        await client.exchange_code(
            code="c", redirect_uri="https://gw/cb", code_verifier="v" * 43, spender=OPERATOR
        )
    [request] = seen
    assert "authorization" not in request.headers
    assert str(request.url) == f"{ISSUER}/token"
    assert set(form(request)) == {
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "client_id",
    }
