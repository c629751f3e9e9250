"""The client-credentials grant (RFC 6749 §4.4): which grants a provider offers, what a
client-credentials connection asks the token endpoint for (and the exchange itself), and why the
password grant is refused.

A request is kept on its connection as JSON (``TokenRequest.to_json``) and read back for each new
exchange, so every token the connection obtains asks for the same scopes, audience and resources
(RFC 8707).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.providers.client import FormValue, OAuthClient
from gateway.providers.errors import GrantNotSupported
from gateway.providers.spender import Spender
from gateway.providers.token_response import TokenSet

AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"
CLIENT_CREDENTIALS = "client_credentials"
PASSWORD = "password"
# What a provider offers unless its profile says otherwise: users' consent, kept fresh.
DEFAULT_GRANT_TYPES = (AUTHORIZATION_CODE, REFRESH_TOKEN)
GRANT_TYPES = frozenset({AUTHORIZATION_CODE, REFRESH_TOKEN, CLIENT_CREDENTIALS})
PASSWORD_REFUSED = (
    "the password grant (grant_type=password) is not supported: RFC 9700, the OAuth 2.0 "
    "Security Best Current Practice, forbids it, since it hands the user's password to the "
    "client; connect users through a connect session (authorization code), or use "
    "client_credentials for app-level access"
)


def check_grant_type(grant_type: str) -> None:
    """GrantNotSupported for a grant type the gateway does not know, the password grant with
    the reason it is refused."""
    if grant_type == PASSWORD:
        raise GrantNotSupported(PASSWORD_REFUSED, details={"grant_type": PASSWORD})
    if grant_type not in GRANT_TYPES:
        known = ", ".join(sorted(GRANT_TYPES))
        raise GrantNotSupported(
            f"unknown grant type {grant_type[:64]!r} (supported: {known})",
            details={"grant_type": grant_type[:64]},
        )


def require_offered(provider: str, offered: Collection[str], grant_type: str) -> None:
    """GrantNotSupported unless the provider's profile lists ``grant_type``."""
    if grant_type not in offered:
        raise GrantNotSupported(
            f"provider {provider!r} does not offer the {grant_type} grant (its grant_types: "
            f"{', '.join(offered) or 'none'})",
            details={"provider": provider, "grant_type": grant_type},
        )


@dataclass(frozen=True)
class TokenRequest:
    """What a client-credentials exchange asks for; empty means the provider's default."""

    scopes: tuple[str, ...] = ()
    audience: str | None = None
    resources: tuple[str, ...] = ()

    def form(self, scope_separator: str = " ") -> dict[str, FormValue]:
        """The token request's form (client authentication aside)."""
        form: dict[str, FormValue] = {"grant_type": CLIENT_CREDENTIALS}
        if self.scopes:
            form["scope"] = scope_separator.join(self.scopes)
        if self.audience is not None:
            form["audience"] = self.audience
        if self.resources:
            form["resource"] = list(self.resources)
        return form

    def to_json(self) -> dict[str, Any]:
        return {
            "scopes": list(self.scopes),
            "audience": self.audience,
            "resources": list(self.resources),
        }

    @classmethod
    def of_json(cls, stored: Mapping[str, Any] | None) -> TokenRequest:
        stored = stored or {}
        return cls(
            scopes=tuple(stored.get("scopes") or ()),
            audience=stored.get("audience"),
            resources=tuple(stored.get("resources") or ()),
        )


async def exchange(provider: OAuthClient, request: TokenRequest, *, spender: Spender) -> TokenSet:
    """An access token for the gateway's own client (RFC 6749 §4.4) with what ``request`` asks;
    GrantNotSupported unless the provider's profile offers the grant. A refresh token in the
    answer is dropped: RFC 6749 §4.4.3 says none should be sent, and a new exchange stands in for
    a refresh."""
    config = await provider.load_config()
    require_offered(provider.name, config.grant_types, CLIENT_CREDENTIALS)
    form = request.form(config.scope_separator)
    tokens = await provider.token_request(config, form, "client-credentials exchange", spender)
    return dataclasses.replace(tokens, refresh_token=None, id_token=None)
