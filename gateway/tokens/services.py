"""Building the providers, their token budget and the refresher, the same way in every process."""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx

from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.metrics import Metrics
from gateway.providers.registry import build_registry
from gateway.settings import Settings
from gateway.tokens.budget import TokenBudget
from gateway.tokens.refresh import Refresher


def key_ring(settings: Settings) -> KeyRing:
    """The key ring from the settings; SettingsError when there is none."""
    settings.require("encryption_keys")
    assert settings.encryption_keys is not None
    return KeyRing.parse(
        settings.encryption_keys.get_secret_value(), settings.encryption_active_key
    )


def provider_http(settings: Settings) -> httpx.AsyncClient:
    """The process's client for providers' OAuth endpoints: explicit timeouts, no redirects."""
    timeout = httpx.Timeout(
        settings.http_read_timeout_seconds, connect=settings.http_connect_timeout_seconds
    )
    return httpx.AsyncClient(timeout=timeout, trust_env=False, follow_redirects=False)


def build_refresher(
    settings: Settings,
    db: Database,
    keys: KeyRing,
    http: httpx.AsyncClient,
    metrics: Metrics | None = None,
    environ: Mapping[str, str] | None = None,
) -> Refresher:
    """The process's refresher; its providers spend one PostgreSQL-held budget per provider.

    Reads every provider's ``GATEWAY_<PROVIDER>_TOKEN_RATE`` now, so a malformed one stops startup.
    """
    env = os.environ if environ is None else environ
    budget = TokenBudget(db, settings, env, metrics)
    providers = build_registry(settings, http, environ=env, gate=budget)
    for name in providers.names:
        budget.rate(name)
    return Refresher(db, keys, providers, settings, budget, metrics)
