"""ID token validation against a JWKS (served through httpx.MockTransport)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from gateway.providers import InvalidIdToken, OAuthClient, ProviderError, ProviderUnavailable
from tests.providers.factories import CLIENT_ID, RsaSigner, b64url, id_token_claims, make_config

JwksServer = Callable[..., OAuthClient]


@pytest.fixture(scope="module")
def signer() -> RsaSigner:
    return RsaSigner("key-1")


@pytest.fixture(scope="module")
def other_signer() -> RsaSigner:
    return RsaSigner("key-2")


@pytest.fixture
async def jwks_server() -> AsyncIterator[tuple[JwksServer, list[int]]]:
    """Makes a client whose JWKS answers are the given key sets in turn (the last one repeats)."""
    fetches: list[int] = []
    opened: list[httpx.AsyncClient] = []

    def make(*key_sets: list[RsaSigner]) -> OAuthClient:
        def handler(request: httpx.Request) -> httpx.Response:
            assert request.url.path == "/jwks"
            fetches.append(1)
            keys = key_sets[min(len(fetches), len(key_sets)) - 1]
            return httpx.Response(200, json={"keys": [key.jwk() for key in keys]})

        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        opened.append(http)
        return OAuthClient(make_config(), http)

    yield make, fetches
    for http in opened:
        await http.aclose()


async def test_a_good_token_yields_its_claims(
    jwks_server: tuple[JwksServer, list[int]], signer: RsaSigner
) -> None:
    make, _ = jwks_server
    client = make([signer])
    claims = await client.validate_id_token(signer.sign(id_token_claims()), nonce="the-nonce")
    assert claims["sub"] == "user-123"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        (id_token_claims(aud="someone-else"), "aud"),
        (id_token_claims(iss="https://evil.example"), "iss"),
        (id_token_claims(exp=int(time.time()) - 3600), "expired"),
        (id_token_claims(nonce="another-nonce"), "nonce"),
        (id_token_claims(nonce=None), "nonce"),
        (id_token_claims(sub=None), "sub"),
        (id_token_claims(iat=None), "iat"),
        (id_token_claims(aud=[CLIENT_ID, "other"]), "azp"),
        (id_token_claims(azp="other"), "azp"),
    ],
    ids=["aud", "iss", "expired", "wrong-nonce", "no-nonce", "no-sub", "no-iat", "aud-list", "azp"],
)
async def test_bad_claims_are_rejected(
    jwks_server: tuple[JwksServer, list[int]],
    signer: RsaSigner,
    claims: dict[str, object],
    reason: str,
) -> None:
    make, _ = jwks_server
    with pytest.raises(InvalidIdToken) as caught:
        await make([signer]).validate_id_token(signer.sign(claims), nonce="the-nonce")
    assert reason in caught.value.message
    assert caught.value.code == "invalid_id_token"


async def test_expiry_allows_a_little_clock_skew(
    jwks_server: tuple[JwksServer, list[int]], signer: RsaSigner
) -> None:
    make, _ = jwks_server
    token = signer.sign(id_token_claims(exp=int(time.time()) - 30))
    await make([signer]).validate_id_token(token, nonce="the-nonce")


async def test_no_expected_nonce_skips_the_nonce_check(
    jwks_server: tuple[JwksServer, list[int]], signer: RsaSigner
) -> None:
    make, _ = jwks_server
    await make([signer]).validate_id_token(signer.sign(id_token_claims()), nonce=None)


async def test_several_audiences_with_our_azp_are_accepted(
    jwks_server: tuple[JwksServer, list[int]], signer: RsaSigner
) -> None:
    make, _ = jwks_server
    token = signer.sign(id_token_claims(aud=[CLIENT_ID, "other"], azp=CLIENT_ID))
    await make([signer]).validate_id_token(token, nonce="the-nonce")


async def test_a_wrong_signature_is_rejected(
    jwks_server: tuple[JwksServer, list[int]], signer: RsaSigner, other_signer: RsaSigner
) -> None:
    make, _ = jwks_server
    forged = other_signer.sign(id_token_claims(), kid=signer.kid)
    with pytest.raises(InvalidIdToken, match="signature"):
        await make([signer]).validate_id_token(forged, nonce="the-nonce")


async def test_a_tampered_payload_is_rejected(
    jwks_server: tuple[JwksServer, list[int]], signer: RsaSigner
) -> None:
    make, _ = jwks_server
    header, _, signature = signer.sign(id_token_claims()).split(".")
    payload = b64url(json.dumps(id_token_claims(sub="admin")).encode())
    with pytest.raises(InvalidIdToken):
        await make([signer]).validate_id_token(f"{header}.{payload}.{signature}", nonce=None)


@pytest.mark.parametrize("alg", ["none", "HS256"])
async def test_unsigned_and_symmetric_tokens_are_rejected(
    jwks_server: tuple[JwksServer, list[int]], signer: RsaSigner, alg: str
) -> None:
    make, _ = jwks_server
    header = b64url(json.dumps({"alg": alg, "kid": signer.kid}).encode())
    payload = b64url(json.dumps(id_token_claims()).encode())
    with pytest.raises(InvalidIdToken):
        await make([signer]).validate_id_token(f"{header}.{payload}.", nonce=None)


@pytest.mark.parametrize("garbage", ["", "not-a-jwt", "a.b.c", "a.b", "...."])
async def test_garbage_is_rejected(
    jwks_server: tuple[JwksServer, list[int]], signer: RsaSigner, garbage: str
) -> None:
    make, _ = jwks_server
    with pytest.raises(InvalidIdToken):
        await make([signer]).validate_id_token(garbage, nonce=None)


async def test_keys_are_cached(
    jwks_server: tuple[JwksServer, list[int]], signer: RsaSigner
) -> None:
    make, fetches = jwks_server
    client = make([signer])
    for _ in range(3):
        await client.validate_id_token(signer.sign(id_token_claims()), nonce=None)
    assert len(fetches) == 1


async def test_an_unknown_key_id_refetches_the_keys_once(
    jwks_server: tuple[JwksServer, list[int]], signer: RsaSigner, other_signer: RsaSigner
) -> None:
    make, fetches = jwks_server
    client = make([signer], [signer, other_signer])  # the provider rotates in key-2
    await client.validate_id_token(signer.sign(id_token_claims()), nonce=None)
    await client.validate_id_token(other_signer.sign(id_token_claims()), nonce=None)
    assert len(fetches) == 2


async def test_a_key_unknown_after_refetching_is_rejected(
    jwks_server: tuple[JwksServer, list[int]], signer: RsaSigner, other_signer: RsaSigner
) -> None:
    make, fetches = jwks_server
    client = make([signer])
    await client.validate_id_token(signer.sign(id_token_claims()), nonce=None)
    with pytest.raises(InvalidIdToken, match="key"):
        await client.validate_id_token(other_signer.sign(id_token_claims()), nonce=None)
    assert len(fetches) == 2


@pytest.mark.parametrize(
    ("status", "expected"), [(503, ProviderUnavailable), (404, ProviderError), (200, ProviderError)]
)
async def test_a_jwks_failure_is_a_provider_error(
    signer: RsaSigner, status: int, expected: type[ProviderError]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text="<html>not a key set</html>")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = OAuthClient(make_config(), http)
        with pytest.raises(ProviderError) as caught:
            await client.validate_id_token(signer.sign(id_token_claims()), nonce=None)
    assert type(caught.value) is expected


async def test_the_message_does_not_quote_the_token(
    jwks_server: tuple[JwksServer, list[int]], signer: RsaSigner
) -> None:
    make, _ = jwks_server
    token = signer.sign(id_token_claims(aud="someone-else"))
    with pytest.raises(InvalidIdToken) as caught:
        await make([signer]).validate_id_token(token, nonce=None)
    for part in token.split("."):
        assert part not in str(caught.value.body())
