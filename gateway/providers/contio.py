"""Contio, the built-in provider: its config comes from ``GATEWAY_CONTIO_*`` settings, not discovery.

Contio's quirks live here: the OAuth endpoints hang off the auth host's origin, userinfo is spelled
``/oauth2/userInfo``, the user API sits under ``/v1/partner/user``, and its discovery document is at
a non-standard path, so we never fetch it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import SecretStr

from gateway.providers.config import ProviderConfig
from gateway.settings import ENV_PREFIX, Settings, SettingsError, split_commas

CONTIO = "contio"
USER_API_PREFIX = "/v1/partner/user"
NOT_CONFIGURED = (
    f"provider {CONTIO!r} is not configured: {ENV_PREFIX}CONTIO_CLIENT_ID and "
    f"{ENV_PREFIX}CONTIO_CLIENT_SECRET are unset"
)


def contio_config(settings: Settings) -> ProviderConfig | None:
    """Contio's config, or None when its client is not configured at all.

    ``contio_client_secret`` is a comma-separated list: the first secret is used, the others are
    tried on ``invalid_client`` while a rotation is under way.
    """
    client_id = settings.contio_client_id or None
    secret = settings.contio_client_secret
    if client_id is None and secret is None:
        return None
    if client_id is None or secret is None:
        unset = "CONTIO_CLIENT_ID" if client_id is None else "CONTIO_CLIENT_SECRET"
        raise SettingsError(
            f"{ENV_PREFIX}{unset} is unset: set both {ENV_PREFIX}CONTIO_CLIENT_ID and "
            f"{ENV_PREFIX}CONTIO_CLIENT_SECRET to enable Contio, or neither"
        )
    secrets = tuple(SecretStr(part) for part in split_commas(secret.get_secret_value()))
    if not secrets:
        raise SettingsError(f"{ENV_PREFIX}CONTIO_CLIENT_SECRET holds no secret")
    auth = _origin(settings.contio_auth_url, "CONTIO_AUTH_URL")
    api = _origin(settings.contio_api_url, "CONTIO_API_URL")
    return ProviderConfig(
        name=CONTIO,
        authorize_url=f"{auth}/oauth2/authorize",
        token_url=f"{auth}/oauth2/token",
        revocation_url=f"{auth}/oauth2/revoke",
        introspection_url=f"{auth}/oauth2/introspect",
        userinfo_url=f"{auth}/oauth2/userInfo",
        issuer=auth,
        jwks_uri=f"{auth}/.well-known/jwks.json",
        api_base_url=f"{api}{USER_API_PREFIX}",
        client_id=client_id,
        client_secrets=secrets,
        scopes=tuple(settings.contio_scopes.split()),
        token_endpoint_auth_method="client_secret_basic",  # what Contio's own SDK sends
        pkce=True,
    )


def _origin(url: str, setting: str) -> str:
    parts = urlsplit(url)
    if (
        parts.scheme not in ("https", "http")
        or not parts.hostname
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise SettingsError(
            f"{ENV_PREFIX}{setting} must be an origin such as https://auth.contio.ai "
            f"(scheme and host, no path), not {url!r}"
        )
    return f"{parts.scheme}://{parts.netloc}"
