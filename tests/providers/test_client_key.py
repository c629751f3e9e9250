"""The gateway's ``private_key_jwt`` key: the assertions it signs (RFC 7523 §3) and the public JWK
it publishes."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwt
from joserfc.jwk import KeySet

from gateway.providers.client_key import ASSERTION_LIFETIME_SECONDS, Algorithm, ClientKey

TOKEN_URL = "https://login.acme.example/oauth/token"
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


def pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def rsa_pem() -> bytes:
    return pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def ec_pem() -> bytes:
    return pem(ec.generate_private_key(ec.SECP256R1()))


def published_set(key: ClientKey) -> KeySet:
    jwks: Any = {"keys": [key.public_jwk()]}
    return KeySet.import_key_set(jwks)


def key_for(algorithm: Algorithm, rsa_pem: bytes, ec_pem: bytes) -> ClientKey:
    return ClientKey.from_pem(ec_pem if algorithm == "ES256" else rsa_pem, algorithm, "gw-1")


@pytest.mark.parametrize("algorithm", get_args(Algorithm))
def test_an_assertion_verifies_against_the_published_key(
    algorithm: Algorithm, rsa_pem: bytes, ec_pem: bytes
) -> None:
    key = key_for(algorithm, rsa_pem, ec_pem)
    published = published_set(key)
    token = jwt.decode(key.assertion("gw", TOKEN_URL, now=1000), published, algorithms=[algorithm])
    assert token.header["alg"] == algorithm and token.header["kid"] == "gw-1"
    claims = token.claims
    assert (claims["iss"], claims["sub"], claims["aud"]) == ("gw", "gw", TOKEN_URL)
    assert (claims["iat"], claims["exp"]) == (1000, 1000 + ASSERTION_LIFETIME_SECONDS)


def test_each_assertion_has_its_own_jti(ec_pem: bytes) -> None:
    key = ClientKey.from_pem(ec_pem, "ES256")
    published = published_set(key)
    jtis = {
        jwt.decode(key.assertion("gw", TOKEN_URL), published, algorithms=["ES256"]).claims["jti"]
        for _ in range(20)
    }
    assert len(jtis) == 20


@pytest.mark.parametrize("algorithm", get_args(Algorithm))
def test_the_published_key_has_no_private_part(
    algorithm: Algorithm, rsa_pem: bytes, ec_pem: bytes
) -> None:
    jwk = key_for(algorithm, rsa_pem, ec_pem).public_jwk()
    assert not PRIVATE_MEMBERS & set(jwk)
    assert (jwk["kid"], jwk["alg"], jwk["use"]) == ("gw-1", algorithm, "sig")


def test_the_kid_defaults_to_the_thumbprint(ec_pem: bytes) -> None:
    first, second = (ClientKey.from_pem(ec_pem, "ES256") for _ in range(2))
    assert first.kid == second.kid and len(first.kid) >= 43


def test_the_repr_shows_no_key(rsa_pem: bytes) -> None:
    shown = repr(ClientKey.from_pem(rsa_pem, "RS256", "gw-1"))
    assert "***" in shown and "PRIVATE" not in shown and "gw-1" in shown


@pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")  # the short key
def test_a_public_key_or_a_short_rsa_key_is_refused(rsa_pem: bytes) -> None:
    public = (
        serialization.load_pem_private_key(rsa_pem, None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValueError, match="public key"):
        ClientKey.from_pem(public, "RS256")
    short = pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    with pytest.raises(ValueError, match="2048"):
        ClientKey.from_pem(short, "RS256")
