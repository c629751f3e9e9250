"""Validating an OpenID Connect ID token against the provider's published keys (OIDC Core §3.1.3.7)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from gateway.providers.errors import (
    InvalidIdToken,
    ProviderError,
    clip,
    json_body,
    transport_error,
    unavailable_from_response,
)

# Asymmetric algorithms only: "none" and HS* (keyed with the client secret) are never accepted.
ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
LEEWAY_SECONDS = 60


class IdTokenValidator:
    """Checks ID tokens of one provider; caches its JWKS and refetches it once on an unknown key."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        provider: str,
        issuer: str,
        client_id: str,
        jwks_uri: str,
        leeway: int = LEEWAY_SECONDS,
    ) -> None:
        self._http = http
        self._provider = provider
        self._issuer = issuer
        self._client_id = client_id
        self._jwks_uri = jwks_uri
        self._leeway = leeway
        self._keys: KeySet | None = None

    async def validate(self, id_token: str, *, nonce: str | None) -> dict[str, object]:
        """The token's claims once signature, iss, aud, azp, exp, iat and nonce all check out."""
        for attempt in range(2):
            fresh = self._keys is None
            keys = self._keys if self._keys is not None else await self._fetch_keys()
            try:
                token = self._decode(id_token, keys)
                break
            except InvalidKeyIdError:
                if fresh or attempt:
                    raise self._invalid(
                        "it is signed with a key the provider does not publish"
                    ) from None
                self._keys = None  # the provider may have rotated its keys since we cached them
        self._check_claims(token.claims, nonce)
        return dict(token.claims)

    def _decode(self, id_token: str, keys: KeySet) -> jwt.Token:
        """Check the signature; an unknown key id is left to the caller, who may refetch."""
        try:
            return jwt.decode(id_token, keys, algorithms=ALGORITHMS)
        except InvalidKeyIdError:
            raise
        except JoseError as exc:
            raise self._invalid(str(exc)) from exc
        except (ValueError, TypeError, KeyError) as exc:  # malformed input joserfc lets through
            raise self._invalid("it is not a well-formed signed JWT") from exc

    def _check_claims(self, claims: dict[str, object], nonce: str | None) -> None:
        registry = jwt.JWTClaimsRegistry(
            leeway=self._leeway,
            iss={"essential": True, "value": self._issuer},
            aud={"essential": True, "value": self._client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise self._invalid(str(exc)) from exc
        if nonce is not None and claims.get("nonce") != nonce:
            raise self._invalid("its nonce is not the one of this sign-in")
        audiences = claims["aud"]
        azp = claims.get("azp")
        several = isinstance(audiences, list) and len(audiences) > 1
        if (several and azp is None) or (azp is not None and azp != self._client_id):
            raise self._invalid("its authorized party (azp) is not this client")

    async def _fetch_keys(self) -> KeySet:
        what = "JWKS request"
        try:
            response = await self._http.get(self._jwks_uri, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise transport_error(self._provider, what, exc) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise unavailable_from_response(self._provider, what, response)
        if response.status_code != 200:
            raise ProviderError(
                f"{self._provider} {what} failed with HTTP {response.status_code}",
                provider=self._provider,
                upstream_status=response.status_code,
            )
        body = json_body(response)
        if not isinstance(body, dict) or not isinstance(body.get("keys"), list):
            raise ProviderError(f"{self._provider} JWKS is not a key set", provider=self._provider)
        signing = [key for key in body["keys"] if isinstance(key, dict) and key.get("use") != "enc"]
        try:
            self._keys = KeySet.import_key_set({"keys": signing})
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise ProviderError(
                f"{self._provider} JWKS cannot be read: {clip(str(exc))}", provider=self._provider
            ) from exc
        return self._keys

    def _invalid(self, reason: str) -> InvalidIdToken:
        return InvalidIdToken(
            f"{self._provider} ID token rejected: {clip(reason)}", provider=self._provider
        )


def subject_claim(claims: Mapping[str, object]) -> str | None:
    """The ``sub`` of ID token or userinfo claims, when it is a non-empty string."""
    sub = claims.get("sub")
    return sub if isinstance(sub, str) and sub else None
