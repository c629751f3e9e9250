"""``private_key_jwt`` client authentication (RFC 7523 §3, OIDC Core §9), as a careful provider
checks it: the signature against the client's registered keys (``client_jwks``, or the JWK Set at
``client_jwks_url``, fetched again when an assertion names a ``kid`` not yet known), ``iss`` and
``sub`` the registered client id, ``aud`` this token endpoint (or the issuer), an ``exp`` in the
future and at most ``MAX_LIFETIME`` away, and a ``jti`` never seen before: a replayed assertion is
refused until it would have expired anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ["RS256", "ES256", "PS256"]
MAX_LIFETIME = 300
JWKS_TIMEOUT_SECONDS = 5.0


class AssertionRefused(Exception):
    """The assertion does not authenticate the client; the message says why (for the client)."""


class ClientAssertions:
    """The registered client's keys and the ``jti`` values already used (thread-safe)."""

    def __init__(
        self,
        client_id: str,
        clock: Callable[[], float],
        jwks: dict[str, Any] | None = None,
        jwks_url: str | None = None,
    ) -> None:
        self._client_id = client_id
        self._clock = clock
        self._jwks_url = jwks_url
        self._keys = _key_set(jwks) if jwks is not None else None
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    async def verify(self, assertion: str, audiences: tuple[str, ...]) -> None:
        """Accept the assertion once, or raise AssertionRefused."""
        token = await self._decode(assertion)
        claims = token.claims
        if claims.get("iss") != self._client_id or claims.get("sub") != self._client_id:
            raise AssertionRefused("The assertion's iss and sub must be the client_id.")
        aud = claims.get("aud")
        named = aud if isinstance(aud, list) else [aud]
        if not any(audience in named for audience in audiences):
            raise AssertionRefused("The assertion's aud is not this token endpoint.")
        now = self._clock()
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= now:
            raise AssertionRefused("The assertion has expired (or has no exp).")
        if exp - now > MAX_LIFETIME:
            raise AssertionRefused(f"The assertion must expire within {MAX_LIFETIME} seconds.")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise AssertionRefused("The assertion has no jti.")
        with self._lock:
            self._seen = {key: until for key, until in self._seen.items() if until > now}
            if jti in self._seen:
                raise AssertionRefused("The assertion's jti was already used.")
            self._seen[jti] = float(exp)

    async def _decode(self, assertion: str) -> jwt.Token:
        keys = self._keys
        for attempt in range(2):
            if keys is None or attempt:
                if self._jwks_url is None:
                    break
                keys = self._keys = await self._fetch()
            try:
                return jwt.decode(assertion, keys, algorithms=ALGORITHMS)
            except InvalidKeyIdError:
                continue  # the client may have added a key since: fetch once more
            except (JoseError, ValueError, TypeError, KeyError) as exc:
                raise AssertionRefused(f"The assertion is not validly signed: {exc}") from exc
        raise AssertionRefused("The assertion is signed with a key the client did not register.")

    async def _fetch(self) -> KeySet:
        assert self._jwks_url is not None
        try:
            async with httpx.AsyncClient(timeout=JWKS_TIMEOUT_SECONDS) as http:
                response = await http.get(self._jwks_url)
            response.raise_for_status()
            return _key_set(response.json())
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            raise AssertionRefused(f"The client's JWKS could not be read: {exc}") from exc


def _key_set(jwks: object) -> KeySet:
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError("a JWK Set is a JSON object with a list of keys")
    return KeySet.import_key_set({"keys": jwks["keys"]})
