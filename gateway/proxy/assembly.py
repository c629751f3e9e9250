"""The proxy's parts, put together once per process: the upstream session and its watchdog, the
caches (their channels registered with the process's change feed, which invalidates them), the
rate-limit buckets. ``Proxy.build`` is the one entry point; it runs inside the lifespan (aiohttp
wants the running loop), which also runs ``Proxy.run`` and the feed, and closes it (``aclose``).

The three caches share ``proxy_cache_max_bytes`` by need (``shares``): the key cache holds one entry
per service key, so it gets a small fixed share (``KEY_CACHE_SHARE``: 512 keys, or a sixteenth of a
bound smaller than 16 MiB); tokens, an entry or more per user, get three quarters of the rest, and
admissions the last quarter: one per client, method and path below the user on a route by user,
but one per connection (and path) for the calls by id. An entry's weight is an estimate: what a typical entry of its kind
holds, measured with ``tracemalloc`` (``tests/proxy/test_cache_bytes.py`` checks the estimates hold),
plus its strings whose length varies from one entry to the next."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from gateway.clients.store import Principal
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.kit.feed import ChangeFeed
from gateway.proxy.admission import Admission, AdmissionKey, Admissions
from gateway.proxy.cache import (
    CLIENT_CHANNEL,
    CONNECTION_CHANNEL,
    DELEGATED_KEY_CHANNEL,
    LocalCache,
)
from gateway.proxy.callers import ClientKeys, RateLimiter
from gateway.proxy.forward import Forwarder, RetryPolicy
from gateway.proxy.headers import DEFAULT_UPSTREAM_HEADERS
from gateway.proxy.loader import Key
from gateway.proxy.token_cache import TokenSource, UserToken
from gateway.proxy.upstream import AiohttpUpstream, Upstream, Watchdog
from gateway.settings import Settings
from gateway.tokens.refresher import Refresher

TOKEN_ENTRY_BYTES = 800
ADMISSION_ENTRY_BYTES = 560
ADMISSION_TARGET_CHAR_BYTES = 2
ADMISSION_BY_ID_BYTES = 200
PRINCIPAL_ENTRY_BYTES = 2048
KEY_CACHE_SHARE = 512 * PRINCIPAL_ENTRY_BYTES


def shares(max_bytes: int) -> tuple[int, int, int]:
    """``max_bytes`` split between the (token, key, admission) caches."""
    keys = min(KEY_CACHE_SHARE, max_bytes // 16)
    tokens = (max_bytes - keys) * 3 // 4
    return tokens, keys, max_bytes - keys - tokens


def token_weight(key: Key, token: UserToken) -> int:
    injection = token.injection
    credential = injection.header[1] if injection.header is not None else injection.query_pair
    return TOKEN_ENTRY_BYTES + len(key[0]) + len(credential or "") + len(injection.base_url or "")


def admission_weight(key: AdmissionKey, admission: Admission) -> int:
    # The raw target (by user, without the user) is held in the key, and about again as the
    # upstream URL; by id, the connection's key too.
    return (
        ADMISSION_ENTRY_BYTES
        + ADMISSION_TARGET_CHAR_BYTES * len(key[2])
        + (ADMISSION_BY_ID_BYTES if admission.by_id is not None else 0)
    )


def principal_weight(_digest: str, _principal: Principal) -> int:
    return PRINCIPAL_ENTRY_BYTES


@dataclass(frozen=True)
class Proxy:
    upstream: Upstream
    forwarder: Forwarder
    watchdog: Watchdog
    tokens: TokenSource
    client_keys: ClientKeys
    admissions: Admissions
    # The feed the caches hear their invalidations on; None without caches (they never serve).
    feed: ChangeFeed | None
    replay_buffer: int
    max_body: int

    @classmethod
    def build(
        cls,
        settings: Settings,
        db: Database,
        keys: KeyRing,
        refresher: Refresher,
        feed: ChangeFeed,
        *,
        processes: int = 1,
    ) -> Proxy:
        """The proxy of one of ``processes`` serving processes, which share each client's rate
        limit (``RateLimiter``); its caches' channels are registered with ``feed`` (which must not
        be running yet) unless the TTL turns the caches off."""
        watchdog = Watchdog()
        upstream = AiohttpUpstream(
            connect_timeout=settings.proxy_connect_timeout_seconds,
            read_timeout=settings.proxy_read_timeout_seconds,
            max_connections=settings.proxy_max_connections,
            default_headers=DEFAULT_UPSTREAM_HEADERS,
            watchdog=watchdog,
        )
        ttl = settings.proxy_cache_ttl_seconds
        token_bytes, key_bytes, admission_bytes = shares(settings.proxy_cache_max_bytes)
        token_cache: LocalCache[Key, UserToken] = LocalCache(
            ttl, max_bytes=token_bytes, weigh=token_weight, renews=True
        )
        key_cache: LocalCache[str, Principal] = LocalCache(
            ttl, max_bytes=key_bytes, weigh=principal_weight
        )
        admission_cache: LocalCache[AdmissionKey, Admission] = LocalCache(
            ttl, max_bytes=admission_bytes, weigh=admission_weight
        )
        tokens = TokenSource(db, keys, refresher, refresher.providers, settings, token_cache)
        client_keys = ClientKeys(db, key_cache)
        admissions = Admissions(
            db, client_keys, refresher.providers, RateLimiter(processes=processes), admission_cache
        )

        def client_changed(payload: str) -> None:
            client_keys.client_changed(payload)
            admissions.client_changed(payload)

        caches = (token_cache, key_cache, admission_cache)

        def suspend() -> None:
            for cache in caches:
                cache.suspend()

        def resume() -> None:
            for cache in caches:
                cache.resume()

        if ttl > 0:
            feed.register(
                {
                    CONNECTION_CHANNEL: tokens.connection_changed,
                    CLIENT_CHANNEL: client_changed,
                    DELEGATED_KEY_CHANNEL: client_keys.delegated_key_changed,
                },
                lost=suspend,
                catch_up=resume,
            )
        return cls(
            upstream=upstream,
            forwarder=Forwarder(
                upstream,
                RetryPolicy.from_settings(settings),
                settings.proxy_response_buffer_bytes,
                watchdog,
                settings.proxy_read_timeout_seconds,
            ),
            watchdog=watchdog,
            tokens=tokens,
            client_keys=client_keys,
            admissions=admissions,
            feed=feed if ttl > 0 else None,
            replay_buffer=settings.proxy_replay_buffer_bytes,
            max_body=settings.proxy_max_body_bytes,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the upstream calls' deadlines until ``stop``."""
        await self.watchdog.run(stop)

    async def aclose(self) -> None:
        await self.tokens.aclose()
        await self.upstream.aclose()
