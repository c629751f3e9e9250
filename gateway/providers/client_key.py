"""The gateway's own key for ``private_key_jwt`` client authentication (RFC 7523 §2.2, OIDC Core §9).

A provider profile names a PEM private key (a file or an environment variable), its algorithm and
optionally its ``kid`` (default: the RFC 7638 thumbprint). Every token-endpoint request then carries
a fresh assertion: ``iss`` = ``sub`` = the client id, ``aud`` = the token endpoint, a short ``exp``
and a ``jti`` never used before. Only the public half ever leaves this object (``public_jwk``, for
``/.well-known/jwks.json``); its repr shows stars.
"""

from __future__ import annotations

import secrets
import time
from typing import Literal, get_args

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

Algorithm = Literal["RS256", "ES256", "PS256"]
ALGORITHMS: tuple[str, ...] = get_args(Algorithm)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Long enough for one request to arrive, short enough that a copy is soon useless.
ASSERTION_LIFETIME_SECONDS = 60
MIN_RSA_BITS = 2048


class ClientKey:
    """A private signing key, its algorithm and ``kid``."""

    def __init__(self, key: RSAKey | ECKey, algorithm: Algorithm, kid: str | None = None) -> None:
        """ValueError (never quoting the key) when the key cannot sign with ``algorithm``."""
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}")
        if not key.is_private:
            raise ValueError("the key is a public key; give the private key")
        if algorithm == "ES256":
            if not isinstance(key, ECKey) or key.curve_name != "P-256":
                raise ValueError("ES256 needs an EC key on the P-256 curve")
        elif not isinstance(key, RSAKey):
            raise ValueError(f"{algorithm} needs an RSA key")
        elif key.public_key.key_size < MIN_RSA_BITS:
            raise ValueError(f"an RSA key needs at least {MIN_RSA_BITS} bits")
        self._key = key
        self.algorithm = algorithm
        self.kid = kid or key.thumbprint()

    @classmethod
    def from_pem(cls, pem: str | bytes, algorithm: Algorithm, kid: str | None = None) -> ClientKey:
        """The key in a PEM (PKCS#8 or traditional); ValueError when it is not a usable one."""
        kind = ECKey if algorithm == "ES256" else RSAKey
        try:
            key = kind.import_key(pem)
        except (JoseError, ValueError, TypeError) as exc:
            expected = "EC" if kind is ECKey else "RSA"
            raise ValueError(f"is not a PEM {expected} private key ({algorithm})") from exc
        return cls(key, algorithm, kid)

    def __repr__(self) -> str:
        return f"<ClientKey kid={self.kid!r} algorithm={self.algorithm} private=***>"

    def public_jwk(self) -> dict[str, object]:
        """The public key as a JWK, with ``kid``, ``alg`` and ``use``: nothing private."""
        return {**self._key.as_dict(private=False, kid=self.kid, alg=self.algorithm, use="sig")}

    def assertion(self, client_id: str, audience: str, *, now: float | None = None) -> str:
        """A new signed client assertion for one request to ``audience`` (the endpoint's URL)."""
        issued = int(time.time() if now is None else now)
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": issued,
            "exp": issued + ASSERTION_LIFETIME_SECONDS,
            "jti": secrets.token_urlsafe(24),
        }
        header = {"alg": self.algorithm, "kid": self.kid}
        return jwt.encode(header, claims, self._key, algorithms=[self.algorithm])
