"""Builders shared by the provider tests: configs, mock-transport clients and a signing key."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import SecretStr

from gateway.providers import OAuthClient, ProviderConfig

ISSUER = "https://auth.example"
CLIENT_ID = "gateway-client"
SECRET = "first-secret-value"

BASE_CONFIG = ProviderConfig(
    name="acme",
    authorize_url=f"{ISSUER}/authorize",
    token_url=f"{ISSUER}/token",
    revocation_url=f"{ISSUER}/revoke",
    introspection_url=f"{ISSUER}/introspect",
    userinfo_url=f"{ISSUER}/userinfo",
    issuer=ISSUER,
    jwks_uri=f"{ISSUER}/jwks",
    api_base_url="https://api.example/v1",
    client_id=CLIENT_ID,
    client_secrets=(SecretStr(SECRET),),
    scopes=("openid", "profile"),
)

Handler = Callable[[httpx.Request], httpx.Response]


def make_config(**overrides: Any) -> ProviderConfig:
    return dataclasses.replace(BASE_CONFIG, **overrides)


def mock_client(handler: Handler, **overrides: Any) -> tuple[OAuthClient, httpx.AsyncClient]:
    """An OAuthClient whose every request is answered by ``handler``; close the second item."""
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return OAuthClient(make_config(**overrides), http), http


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class RsaSigner:
    """An RSA key made with cryptography, signing RS256 JWTs by hand (independent of joserfc)."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, str]:
        numbers = self._key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": _uint(numbers.n),
            "e": _uint(numbers.e),
        }

    def sign(self, claims: Mapping[str, object], *, kid: str | None = None) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": kid or self.kid}
        signing_input = ".".join(
            b64url(json.dumps(part).encode()) for part in (header, dict(claims))
        )
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"


def id_token_claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": ISSUER,
        "sub": "user-123",
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 3600,
        "nonce": "the-nonce",
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}
