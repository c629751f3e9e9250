"""How a connection's next tokens are obtained from its provider: the token request its grant
makes (a refresh with its refresh token, or a new client-credentials exchange), how long the
answer lives, and which settings it gives that the profile allows. Nothing here writes to the database: the callers record what went wrong."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import partial

from gateway.kit.clock import utcnow
from gateway.kit.crypto import KeyRing
from gateway.models import AuthMode, Connection
from gateway.providers import client_credentials
from gateway.providers.client import OAuthClient
from gateway.providers.client_credentials import TokenRequest
from gateway.providers.errors import ProviderError
from gateway.providers.profile import SettingNotAllowed
from gateway.providers.spender import Spender
from gateway.providers.token_response import TokenSet
from gateway.settings import Settings
from gateway.tokens import grant

log = logging.getLogger(__name__)

TokenCall = Callable[[], Awaitable[TokenSet]]


def token_request(
    keys: KeyRing, provider: OAuthClient, connection: Connection, spender: Spender
) -> TokenCall | None:
    """What obtains the connection's next tokens; None when a refresh-token grant holds no
    refresh token. Raises CredentialsUnreadable when its refresh token does not open."""
    if connection.auth_mode == AuthMode.CLIENT_CREDENTIALS:
        request = TokenRequest.of_json(connection.token_request)
        return partial(client_credentials.exchange, provider, request, spender=spender)
    refresh_token = grant.refresh_token(keys, connection)
    if refresh_token is None:
        return None
    return partial(provider.refresh, refresh_token, spender=spender)


async def lifetime(
    provider: OAuthClient, tokens: TokenSet, spender: Spender, settings: Settings
) -> int:
    """Seconds the new access token lives: ``expires_in``, else introspection's ``exp``, else
    the configured default."""
    if tokens.expires_in is not None:
        return tokens.expires_in
    try:
        info = await provider.introspect(tokens.access_token.get_secret_value(), spender=spender)
    except ProviderError:
        info = {}
    exp = info.get("exp")
    if isinstance(exp, int | float):
        return max(1, int(exp - utcnow().timestamp()))
    return settings.default_token_lifetime_seconds


def longest_call_seconds(settings: Settings) -> float:
    """The longest a token request can take (connecting, then reading the answer)."""
    return settings.http_connect_timeout_seconds + settings.http_read_timeout_seconds


def allowed_settings(
    provider: OAuthClient, connection: Connection, tokens: TokenSet
) -> Mapping[str, str]:
    """The settings a refresh's token response gives (``token_response``: a changed
    ``instance_url``), or none when they make an API base URL the provider's profile does not
    allow: then they are logged as refused (the host alone) and the connection keeps its own."""
    try:
        provider.profile.check_settings(tokens.settings)
    except SettingNotAllowed as exc:
        log.warning(
            "refresh of connection %s: %s named settings outside its allowed_hosts (%s); the "
            "connection keeps its settings",
            connection.id,
            connection.provider,
            exc.message,
            extra={"connection_id": connection.id, "provider": connection.provider},
        )
        return {}
    return tokens.settings
