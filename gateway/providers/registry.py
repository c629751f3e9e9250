"""The configured providers by name: Contio from settings, the rest from the providers file."""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx

from gateway.providers.client import OAuthClient, TokenGate
from gateway.providers.contio import CONTIO, NOT_CONFIGURED, contio_config
from gateway.providers.errors import ProviderNotFound
from gateway.providers.providers_file import ProviderSource, load_providers_file
from gateway.settings import ENV_PREFIX, Settings, SettingsError


class ProviderRegistry:
    """One ``OAuthClient`` per configured provider, and which of them is the default."""

    def __init__(
        self,
        clients: Mapping[str, OAuthClient],
        *,
        default: str,
        unconfigured: Mapping[str, str] | None = None,
    ) -> None:
        """``unconfigured`` maps a known but disabled provider to the reason, for the error."""
        self._clients = dict(clients)
        self._unconfigured = dict(unconfigured or {})
        self._default = default

    def replace(self, other: ProviderRegistry) -> None:
        """Take ``other``'s providers, for every lookup from now on (a reload)."""
        self._clients, self._unconfigured = dict(other._clients), dict(other._unconfigured)
        self._default = other._default

    @property
    def default(self) -> str:
        return self._default

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._clients)

    def get(self, name: str | None) -> OAuthClient:
        """The named provider's client, or the default's for None; ProviderNotFound otherwise."""
        key = self.default if name is None else name
        client = self._clients.get(key)
        if client is not None:
            return client
        if key in self._unconfigured:
            raise ProviderNotFound(self._unconfigured[key], name=key)
        known = ", ".join(self.names) or "none"
        raise ProviderNotFound(f"unknown provider {key[:64]!r} (configured: {known})", name=key)

    def public_keys(self) -> list[dict[str, object]]:
        """The public JWK of each key the gateway signs client assertions with, each kid once."""
        keys: dict[str, dict[str, object]] = {}
        for client in self._clients.values():
            if client.client_key is not None:
                keys.setdefault(client.client_key.kid, client.client_key.public_jwk())
        return list(keys.values())


def provider_sources(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, ProviderSource], dict[str, str]]:
    """Every configured provider's source, and the known providers left unconfigured (with why);
    no network. SettingsError when anything is wrong, the default provider included."""
    sources: dict[str, ProviderSource] = {}
    unconfigured: dict[str, str] = {}
    contio = contio_config(settings)
    if contio is None:
        unconfigured[CONTIO] = NOT_CONFIGURED
    else:
        sources[CONTIO] = contio
    if settings.providers_file is not None:
        env = os.environ if environ is None else environ
        sources.update(
            load_providers_file(
                settings.providers_file,
                env,
                allow_loopback_http=settings.providers_allow_loopback_http,
            )
        )
    default = settings.default_provider
    if default not in sources and default not in unconfigured:
        known = ", ".join(sources) or "none"
        raise SettingsError(
            f"{ENV_PREFIX}DEFAULT_PROVIDER is {default!r}, which is not a configured provider "
            f"(configured: {known})"
        )
    return sources, unconfigured


def credential_params(settings: Settings) -> frozenset[str]:
    """The query parameters (lower case) some provider takes its credential in: a caller's are
    dropped, and the access log masks them. None for settings that configure no provider
    correctly: start-up refuses those with the reason."""
    try:
        sources, _ = provider_sources(settings)
    except SettingsError:
        return frozenset()
    return frozenset(
        param.lower()
        for source in sources.values()
        if (param := source.profile.auth_header.query_param) is not None
    )


def require_providers(settings: Settings, environ: Mapping[str, str] | None = None) -> None:
    """SettingsError unless at least one provider is configured (a gateway with none can connect
    no one, refresh nothing and revoke nothing)."""
    sources, _ = provider_sources(settings, environ)
    if not sources:
        raise SettingsError(
            f"no provider is configured: set {ENV_PREFIX}CONTIO_CLIENT_ID and "
            f"{ENV_PREFIX}CONTIO_CLIENT_SECRET, or list providers in {ENV_PREFIX}PROVIDERS_FILE"
        )


def build_registry(
    settings: Settings,
    http: httpx.AsyncClient,
    *,
    environ: Mapping[str, str] | None = None,
    gate: TokenGate | None = None,
) -> ProviderRegistry:
    """Read every provider's config; no network. SettingsError when anything is wrong.

    ``environ`` (default ``os.environ``) is where ``client_secret_env`` variables are looked up;
    ``gate``, when given, admits every request to the providers' OAuth endpoints (the rate budget).
    """
    sources, unconfigured = provider_sources(settings, environ)
    clients = {name: OAuthClient(source, http, gate) for name, source in sources.items()}
    return ProviderRegistry(clients, default=settings.default_provider, unconfigured=unconfigured)
