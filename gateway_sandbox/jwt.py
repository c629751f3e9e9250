"""RS256 signing of ID tokens (RFC 7515/7519) and the JWKS that publishes the public key."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

JsonObject = dict[str, Any]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class SigningKey:
    """An RSA key pair; ``kid`` is the key's RFC 7638 thumbprint."""

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self._private_key = private_key
        numbers = private_key.public_key().public_numbers()
        self._public: JsonObject = {"e": _uint(numbers.e), "kty": "RSA", "n": _uint(numbers.n)}
        canonical = json.dumps(self._public, separators=(",", ":"), sort_keys=True)
        self.kid = b64url(hashlib.sha256(canonical.encode()).digest())

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r}, private=***)"

    def jwks(self) -> JsonObject:
        return {"keys": [{**self._public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def sign(self, claims: Mapping[str, Any]) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = ".".join(
            b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        signature = self._private_key.sign(
            signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
        return f"{signing_input}.{b64url(signature)}"
