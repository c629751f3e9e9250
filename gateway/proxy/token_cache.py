"""The user's access token for a proxied call, read and decrypted once, then cached.

A hit costs a dictionary lookup: no database round trip, no decryption. A miss reads the connection,
checks it is usable (active and not paused) and opens the token. Tokens are cached under a ``Key``:
the user, the provider and the space (a confined client's own, or the shared one), so a client finds
only the connections of its space, and either None (the user's *default* connection there, which
``/proxy/users/...`` uses) or a connection's id (``/proxy/connections/...``). The cache is dropped
for both keys of a connection on every replica when its token, status, owner, space, default or
pause changes (``kit.feed.ChangeFeed``), so a refreshed token is picked up, and a revoked or paused
one refused, within moments everywhere, and a user's calls move to a new default as soon as it is
made.

The refresh behaviour is the token lifecycle's: a token within its refresh margin is refreshed first
(a still-valid one is used if the provider hiccups), and an upstream 401 refreshes once, unless
another refresh already replaced the token the call used or a 401 already refreshed it within the
cool-down (then the 401 stands). Each refresh spends the calling client's share of the budget. An
access token that does not open with the key ring is refreshed too: the refresh replaces it if the
refresh token opens, and otherwise marks the connection ``credentials_unreadable`` and answers 409
with that code.

Each cached token carries its ``Injection``: the credential made once into the header or query
parameter it is sent in (an access token, or a stored credential such as an API key), and the API
base URL the connection's settings make for a provider whose ``api_base_url`` is a template. A
stored credential is never refreshed, and a 401 on it stands.

Misses are read in batches (``loader.ConnectionLoader``), 16 columns each.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import uuid
from dataclasses import dataclass
from datetime import datetime

from gateway.connections import queries
from gateway.exceptions import CredentialsUnreadable, GatewayError, NotFound
from gateway.kit.clock import utcnow
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models.connection import STORED_CREDENTIAL_MODES
from gateway.providers.client import OAuthClient
from gateway.providers.errors import ProviderError
from gateway.providers.registry import ProviderRegistry
from gateway.providers.spender import REFRESHER, Spender
from gateway.proxy.cache import LocalCache
from gateway.proxy.errors import ConnectionDisabled
from gateway.proxy.injection import Injection
from gateway.proxy.loader import ConnectionLoader, Key, Proxied, serves
from gateway.settings import Settings
from gateway.tokens import grant, schedule
from gateway.tokens.errors import ensure_usable
from gateway.tokens.refresher import Refresher
from gateway.tokens.schedule import refresh_margin

log = logging.getLogger(__name__)

RENEW_EVERY_SECONDS = 1.0


@dataclass(frozen=True, slots=True, repr=False)
class UserToken:
    connection_id: uuid.UUID
    key: Key
    version: int
    expires_at: datetime | None
    lifetime_seconds: int | None
    # The credential as its provider takes it, and the API base the connection's settings make;
    # worked out once per cached token (``injection``).
    injection: Injection
    refresh_from: float  # the Unix time from which the proxy refreshes before forwarding
    unauthorized_refresh_at: datetime | None  # the connection's last 401-forced refresh
    refreshable: bool  # False for a stored credential: nothing replaces it but its operator

    def __repr__(self) -> str:
        return f"UserToken(connection_id={self.connection_id}, version={self.version}, token=***)"

    @classmethod
    def of(
        cls,
        connection: Proxied,
        keys: KeyRing,
        settings: Settings,
        key: Key,
        provider: OAuthClient,
    ) -> UserToken:
        """The token of ``connection``, cached under ``key``: an access token, or a stored
        credential, sent as its ``provider``'s profiles say. SettingNotAllowed when the provider's
        API base template cannot be resolved with the connection's settings."""
        expires_at = connection.expires_at
        lifetime = connection.token_lifetime_seconds
        stored = connection.auth_mode in STORED_CREDENTIAL_MODES
        credential = (
            grant.stored_credential(keys, connection)
            if stored
            else grant.access_token(keys, connection)
        )
        return cls(
            connection_id=connection.id,
            key=key,
            version=connection.token_version,
            expires_at=expires_at,
            lifetime_seconds=lifetime,
            injection=Injection.of(
                credential, provider.credentials, provider.profile, connection.provider_settings
            ),
            refresh_from=(
                expires_at.timestamp() - refresh_margin(lifetime, settings)
                if expires_at is not None
                else math.inf
            ),
            unauthorized_refresh_at=connection.unauthorized_refresh_at,
            refreshable=not stored,
        )


class TokenSource:
    """One per process, from the lifespan."""

    def __init__(
        self,
        db: Database,
        keys: KeyRing,
        refresher: Refresher,
        providers: ProviderRegistry,
        settings: Settings,
        cache: LocalCache[Key, UserToken],
    ) -> None:
        """``providers`` say how each connection's credential is sent (the refresher's own)."""
        self._keys = keys
        self._refresher = refresher
        self._providers = providers
        self._settings = settings
        self.cache = cache
        self._loader = ConnectionLoader(db)
        self._due: set[Key] = set()  # tokens to read again, together, shortly
        self._renewals: set[asyncio.Task[None]] = set()

    def cached(self, key: Key) -> UserToken | None:
        """The token if it is cached, else None (then ``load`` it)."""
        cached, renew = self.cache.lookup(key)
        if renew:
            self._due.add(key)
            if len(self._due) == 1:
                # Everything due meanwhile is read in one query; the wait is a small part of
                # what is left of the entry's life (at least a tenth of the TTL).
                wait = min(RENEW_EVERY_SECONDS, self.cache.ttl / 20)
                asyncio.get_running_loop().call_later(wait, self._start_renewals)
        return cached

    def _start_renewals(self) -> None:
        task = asyncio.create_task(self.renew_due())
        self._renewals.add(task)
        task.add_done_callback(self._renewals.discard)

    async def renew_due(self) -> None:
        """Read again every cached token due for it, in the background (one query per batch)."""
        keys, self._due = self._due, set()
        await asyncio.gather(*(self._renew(key) for key in keys))

    async def load(self, key: Key) -> UserToken:
        """The usable connection's token read from the database (with every other miss of this
        loop turn) and cached; 404, 409 or 410 otherwise (409 ``connection_disabled`` when it is
        paused, ``credentials_unreadable`` when its tokens do not open)."""
        epoch = self.cache.epoch
        connection = await self._loader.load(key)
        if connection is None:
            raise missing(key)
        ensure_usable(connection)
        if not connection.enabled:
            raise ConnectionDisabled(
                "the connection is paused; its owner or an operator may resume it",
                details={"connection_id": str(connection.id)},
            )
        try:
            token = self._token(connection, key)
        except CredentialsUnreadable:
            if connection.auth_mode in STORED_CREDENTIAL_MODES:
                raise  # nothing to repair it from: its operator supplies it again
            # A repair, not a caller's refresh: spent from the refresher's own share.
            fresh = await self._refresher.refresh(
                connection.id, spender=REFRESHER, seen_version=connection.token_version
            )
            token = self._token(fresh.connection, key)
        self.cache.put(key, token, epoch)
        return token

    def _token(self, connection: Proxied, key: Key) -> UserToken:
        provider = self._providers.get(connection.provider)
        return UserToken.of(connection, self._keys, self._settings, key, provider)

    async def _renew(self, key: Key) -> None:
        """Read a cached token again in the background, so that busy users never miss."""
        try:
            await self.load(key)
        except GatewayError:
            self.cache.invalidate(key)  # gone or unusable: the next call finds out why
        except Exception as exc:  # the database, briefly: the entry serves out its TTL
            log.warning("could not renew a cached token: %s", type(exc).__name__)

    async def aclose(self) -> None:
        for task in list(self._renewals):
            task.cancel()
        await asyncio.gather(*self._renewals, return_exceptions=True)
        await self._loader.aclose()

    async def refresh_before_use(self, token: UserToken, spender: Spender) -> UserToken:
        """A token past its ``refresh_from`` (the caller checks), refreshed before it is used;
        kept as it is, while still valid, if the provider hiccups."""
        try:
            return await self._refresh(token, spender, rejected=False)
        except ProviderError:
            if token.expires_at is not None and token.expires_at > utcnow():
                return token
            raise

    async def replace(self, token: UserToken, spender: Spender) -> UserToken:
        """After the provider refused ``token`` (401): refreshed, or whatever replaced it since;
        ``token`` itself while a 401 already refreshed it within the cool-down (nothing is read or
        sent). A stored credential is never replaced: the 401 stands."""
        if not token.refreshable:
            return token
        if not schedule.refresh_after_401(token.unauthorized_refresh_at, utcnow(), self._settings):
            return token
        return await self._refresh(token, spender, rejected=True)

    async def _refresh(self, token: UserToken, spender: Spender, *, rejected: bool) -> UserToken:
        epoch = self.cache.epoch
        fresh = await self._refresher.refresh(
            token.connection_id, spender=spender, seen_version=token.version, rejected=rejected
        )
        refreshed = self._token(fresh.connection, token.key)
        # Kept only while the key still names this connection (a default may have moved), and
        # it may still be used (it may have been paused meanwhile).
        if fresh.connection.enabled and serves(token.key, fresh.connection):
            self.cache.put(token.key, refreshed, epoch)
        return refreshed

    def connection_changed(self, payload: str) -> None:
        """The change feed's handler: ``{"user_id": ..., "provider": ..., "space": ...,
        "connection_id": ...}`` of a changed connection (the space a client's id, or null for the
        shared one): its token goes, under its user's key and under its id."""
        changed = json.loads(payload)
        space = changed["space"]
        user_key: Key = (
            str(changed["user_id"]),
            str(changed["provider"]),
            uuid.UUID(space) if space is not None else None,
            None,
        )
        self.cache.invalidate(user_key)
        connection_id = changed.get("connection_id")
        if connection_id is not None:
            self.cache.invalidate((*user_key[:3], uuid.UUID(connection_id)))


def missing(key: Key) -> NotFound:
    """404 ``connection_not_found`` for a key that names no connection."""
    user_id, provider, _space, connection_id = key
    if connection_id is not None:
        return queries.not_found(connection_id)
    return NotFound(f"user {user_id!r} has no {provider} connection", code="connection_not_found")
