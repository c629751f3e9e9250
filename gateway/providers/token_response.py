"""The tokens a provider hands out, read from a token endpoint response (RFC 6749 §5.1)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import SecretStr

from gateway.providers.errors import ProviderError
from gateway.providers.profile import TokenResponseShape, lookup

RFC6749 = TokenResponseShape()


@dataclass(frozen=True)
class TokenSet:
    """One token response. Every token is a ``SecretStr``, so the repr shows stars.

    ``expires_in`` is in seconds from the moment of the response; ``scopes`` is None when the
    provider did not say (RFC 6749: then the granted scope is the requested one). ``settings``
    are the fields the provider's profile keeps (``TokenResponseShape.settings``); not secrets.
    """

    access_token: SecretStr
    refresh_token: SecretStr | None
    expires_in: int | None
    scopes: tuple[str, ...] | None
    id_token: SecretStr | None
    token_type: str
    settings: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_response(
        cls, body: object, *, provider: str, shape: TokenResponseShape = RFC6749
    ) -> TokenSet:
        """Read a successful token response where ``shape`` says its parts are; ProviderError
        when it lacks an access token."""
        if not isinstance(body, Mapping):
            raise ProviderError(
                f"{provider} token response is not a JSON object", provider=provider
            )
        access_token = lookup(body, shape.access_token)
        if not isinstance(access_token, str) or not access_token:
            raise ProviderError(f"{provider} token response has no access_token", provider=provider)
        token_type = body.get("token_type")
        return cls(
            access_token=SecretStr(access_token),
            refresh_token=_secret(lookup(body, shape.refresh_token)),
            expires_in=_seconds(lookup(body, shape.expires_in)),
            scopes=_scopes(body.get("scope")),
            id_token=_secret(body.get("id_token")),
            token_type=token_type if isinstance(token_type, str) and token_type else "Bearer",
            settings=shape.read_settings(body),
        )


def _secret(value: object) -> SecretStr | None:
    return SecretStr(value) if isinstance(value, str) and value else None


def _seconds(value: object) -> int | None:
    # Numbers as strings are common (and harmless); anything unreadable means "unknown", since a
    # token response we refused here would lose a code that cannot be used twice.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float | str):
        try:
            number = float(value)
        except ValueError:
            return None
        return int(number) if math.isfinite(number) and number >= 0 else None
    return None


def _scopes(value: object) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)  # not RFC 6749, but some providers send a JSON array
    return None
