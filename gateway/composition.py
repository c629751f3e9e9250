"""The one composition root: how a gateway process builds what it runs on from its settings.

The app's lifespan, ``gateway worker`` and the CLI's commands all take their database, key ring,
providers' HTTP client, refresher and change feed from here, built the same way; the app adds the
proxy. Nothing else in the gateway builds them. The feed is one per process: the parts register
with it, and the app's lifespan and the worker run it (the CLI's commands never do).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
from sqlalchemy.engine import URL

from gateway.connections.revocation import Revoker
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database, async_url
from gateway.kit.embedded import EmbeddedPostgres
from gateway.kit.feed import ChangeFeed
from gateway.kit.http_transport import AiohttpTransport
from gateway.kit.migrations import upgrade
from gateway.kit.tracing import TracedTransport
from gateway.metrics import Metrics
from gateway.operators.identity_provider import identity_provider
from gateway.providers.client import OAuthClient
from gateway.providers.registry import ProviderRegistry, build_registry
from gateway.providers.reloading import ProvidersReload
from gateway.proxy.assembly import Proxy
from gateway.settings import Settings
from gateway.tokens.budget import TokenBudget
from gateway.tokens.refresher import Refresher


def database_url(settings: Settings, *, migrate_embedded: bool) -> URL:
    """The configured database; without one, start the embedded server (migrating it if asked)."""
    if settings.database_url is not None:
        return async_url(settings.database_url.get_secret_value())
    url = async_url(EmbeddedPostgres(settings.data_dir).start())
    if migrate_embedded:
        upgrade(url)
    return url


def key_ring(settings: Settings) -> KeyRing:
    """The key ring from the settings; SettingsError when there is none."""
    settings.require("encryption_keys")
    assert settings.encryption_keys is not None
    return KeyRing.parse(
        settings.encryption_keys.get_secret_value(), settings.encryption_active_key
    )


def provider_http(settings: Settings) -> httpx.AsyncClient:
    """The process's client for providers' OAuth endpoints: explicit timeouts, no redirects, sent
    over aiohttp (``kit.http_transport``). It keeps no cookie: it calls on behalf of every user,
    and a cookie one user's call was given must not go with another's."""
    timeout = httpx.Timeout(
        settings.http_read_timeout_seconds, connect=settings.http_connect_timeout_seconds
    )
    return httpx.AsyncClient(
        timeout=timeout,
        trust_env=False,
        follow_redirects=False,
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        transport=TracedTransport(AiohttpTransport()),
    )


def refresher(
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


@dataclass(frozen=True)
class Core:
    """What every gateway process runs on; built and closed by ``core``."""

    settings: Settings
    db: Database
    keys: KeyRing
    http: httpx.AsyncClient
    refresher: Refresher
    feed: ChangeFeed

    @property
    def providers(self) -> ProviderRegistry:
        return self.refresher.providers

    def providers_reload(self) -> ProvidersReload:
        """Reloads this process's providers as ``refresher`` first built them (each new
        provider's token rate read too, so a malformed one refuses the reload)."""

        def build() -> ProviderRegistry:
            fresh = build_registry(self.settings, self.http, gate=self.refresher.budget)
            if self.refresher.budget is not None:
                for name in fresh.names:
                    self.refresher.budget.rate(name)
            return fresh

        return ProvidersReload(self.providers, build)

    def revoker(self) -> Revoker:
        return Revoker(self.db, self.keys, self.providers, self.settings, self.http)

    def console_identity_provider(self) -> OAuthClient | None:
        """The console's identity provider, over the providers' HTTP client (one a process: it
        caches the provider's metadata and keys)."""
        return identity_provider(self.settings, self.http)

    def proxy(self, *, processes: int = 1) -> Proxy:
        """The proxy's per-process state (built inside a running event loop, before the feed runs;
        closed by its owner), for one of ``processes`` serving processes on the machine."""
        return Proxy.build(
            self.settings, self.db, self.keys, self.refresher, self.feed, processes=processes
        )


@asynccontextmanager
async def database(url: URL, *, pool_size: int) -> AsyncIterator[Database]:
    db = Database(url, pool_size=pool_size)
    try:
        yield db
    finally:
        await db.dispose()


@asynccontextmanager
async def core(
    settings: Settings,
    url: URL,
    keys: KeyRing,
    *,
    pool_size: int,
    metrics: Metrics | None = None,
) -> AsyncIterator[Core]:
    """The process's core until the block ends; then its refresh leases are given up, and its HTTP
    client and database pool closed."""
    async with database(url, pool_size=pool_size) as db, provider_http(settings) as http:
        built = refresher(settings, db, keys, http, metrics)
        try:
            yield Core(settings, db, keys, http, built, ChangeFeed(db.url))
        finally:
            await built.release_all()
