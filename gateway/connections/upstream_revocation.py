"""Revoking a revoked connection's tokens at the provider: at once, or later if it cannot be reached.

Revocation erases the connection's ciphertexts; the tokens still to be revoked upstream are copied, in
the same transaction, into a ``pending_revocations`` row (``tokens.pending_revocations``). The row is
deleted as soon as the provider has revoked them (RFC 7009, and for Contio its admin API when
``GATEWAY_CONTIO_ADMIN_API_KEY`` is set) or after ``revocation_max_attempts`` attempts.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` by moving ``next_attempt_at`` past the longest an
attempt can take, so any number of replicas retry without two of them calling the provider for the
same row at once; a replica that dies mid-attempt leaves the row to be claimed again when that time
is up. No transaction is held while the provider is called.

Contio's admin API revokes every grant of the user, a newer one included, and every other
connection's grant for the same account (see ``sharing``), so it is only called while the connection
is still revoked at the version the revocation left it at and no other active connection holds the
account; otherwise only the revoked grant's own tokens are revoked. Both are decided again at every
attempt: a user who connects again, under this user id or another, keeps the new grant.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta

import httpx
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import store as audit
from gateway.connections import sharing
from gateway.exceptions import GatewayError
from gateway.kit import jobs
from gateway.kit.clock import utcnow
from gateway.kit.crypto import DecryptionError, KeyRing
from gateway.kit.db import Database
from gateway.models import Connection, ConnectionStatus, PendingRevocation
from gateway.providers.client import OAuthClient
from gateway.providers.contio import CONTIO
from gateway.providers.contio_admin import ContioAdmin, connection_id, contio_admin
from gateway.providers.errors import (
    ProviderError,
    ProviderNotConfigured,
    ProviderNotFound,
    ProviderUnavailable,
)
from gateway.providers.registry import ProviderRegistry
from gateway.providers.spender import REFRESHER, Spender
from gateway.settings import Settings
from gateway.tokens import pending_revocations as pending
from gateway.tokens.pending_revocations import Claim, Tokens
from gateway.tokens.schedule import backoff_seconds

log = logging.getLogger(__name__)

ACTOR = "gateway:revoker"
BATCH_SIZE = 20
CONCURRENCY = 4


def account_wide_available(settings: Settings, provider: str) -> bool:
    """Whether the provider's account-wide revocation can be used (Contio, with an admin key)."""
    return provider == CONTIO and settings.contio_admin_api_key is not None


class UpstreamRevoker:
    """Attempts and retries upstream revocation; one per process is plenty, any number may run."""

    def __init__(
        self,
        db: Database,
        keys: KeyRing,
        providers: ProviderRegistry,
        settings: Settings,
        http: httpx.AsyncClient,
    ) -> None:
        self._db = db
        self._keys = keys
        self._providers = providers
        self._settings = settings
        self._admin: ContioAdmin | None = contio_admin(settings, http)

    async def is_pending(self, connection_id: uuid.UUID) -> bool:
        async with self._db.transaction() as session:
            found = await session.scalar(
                select(exists().where(PendingRevocation.connection_id == connection_id))
            )
        return bool(found)

    async def attempt(self, claim: Claim, spender: Spender) -> GatewayError | None:
        """One try at revoking ``claim``'s tokens upstream, spending ``spender``'s share of the
        budget; None when the provider has them revoked, else why not (the row stays pending;
        ``provider_not_configured`` when this gateway has no such provider)."""
        known = claim.provider_connection_id
        error: GatewayError | None = None
        try:
            try:
                provider = self._providers.get(claim.provider)
            except ProviderNotFound as exc:
                raise ProviderNotConfigured.of(exc) from exc
            admin = await self._admin_for(claim)
            if admin is not None and known is None:
                known = await _learn_connection_id(provider, claim.tokens, spender)
            await _revoke_tokens(provider, claim.tokens, spender)
            if admin is not None and known is not None:
                await admin.revoke_connection(known)
            elif admin is not None:
                log.warning(
                    "connection %s: %s's connection id is unknown (introspection did not say); "
                    "revoked its tokens but not through the admin API",
                    claim.connection_id,
                    claim.provider,
                )
        except GatewayError as exc:
            error = exc
        return await self._settle(claim, known, error)

    async def retry_due(self, *, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
        """Claim the rows due at ``now`` and attempt each; returns how many were claimed."""
        now = now or utcnow()
        claims: list[Claim] = []
        async with self._db.transaction() as session:
            rows = (
                await session.scalars(
                    select(PendingRevocation)
                    .where(PendingRevocation.next_attempt_at <= now)
                    .order_by(PendingRevocation.next_attempt_at)
                    .limit(batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                row.attempts += 1
                row.next_attempt_at = now + timedelta(seconds=pending.claim_seconds(self._settings))
                try:
                    claims.append(pending.claim(row, pending.open_tokens(self._keys, row)))
                except DecryptionError:
                    await self._give_up(session, row, "tokens_unreadable")
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(claim: Claim) -> None:
            async with gate:
                await self.attempt(claim, REFRESHER)

        await asyncio.gather(*(one(claim) for claim in claims))
        return len(rows)

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        """Retry due rows until ``stop``; a full batch goes round again at once."""

        async def one_round() -> bool:
            return await self.retry_due() >= BATCH_SIZE

        failed = "upstream revocation cycle failed; trying again next cycle"
        await jobs.every(interval, stop, one_round, log=log, failed=failed)

    async def _admin_for(self, claim: Claim) -> ContioAdmin | None:
        """The admin API, if it applies: Contio, a key, the user has not connected again, and no
        other active connection holds the account."""
        if self._admin is None or claim.provider != CONTIO:
            return None
        async with self._db.transaction() as session:
            connection = await session.get(Connection, claim.connection_id)
            untouched = (
                connection is not None
                and connection.status is ConnectionStatus.REVOKED
                and connection.token_version == claim.revoked_version
            )
            if not untouched or connection is None:
                return None
            shared = any(
                sharing.is_live(other) for other in await sharing.sharing(session, connection)
            )
        if shared:
            log.info(
                "connection %s: another active connection holds its %s account; revoking this "
                "grant's tokens only",
                claim.connection_id,
                claim.provider,
            )
            return None
        return self._admin

    async def _settle(
        self, claim: Claim, known: str | None, error: GatewayError | None
    ) -> GatewayError | None:
        now = utcnow()
        async with self._db.transaction() as session:
            row = await session.get(PendingRevocation, claim.id, with_for_update=True)
            if row is None:
                return error  # another replica settled it
            if known is not None and row.provider_connection_id is None:
                row.provider_connection_id = known
                await _remember_connection_id(session, claim, known)
            if error is None:
                await session.delete(row)
                audit.record(
                    session,
                    actor=ACTOR,
                    action="connection.upstream_revoked",
                    connection_id=claim.connection_id,
                    details={"provider": claim.provider, "attempts": row.attempts},
                )
                log.info("connection %s: revoked at %s", claim.connection_id, claim.provider)
                return None
            row.last_error = f"{error.code}: {error.message}"[:500]
            if row.attempts >= self._settings.revocation_max_attempts:
                await self._give_up(session, row, error.code)
                return error
            retry_after = error.retry_after if isinstance(error, ProviderUnavailable) else None
            row.next_attempt_at = now + timedelta(
                seconds=backoff_seconds(row.attempts, retry_after)
            )
        log.warning(
            "connection %s: upstream revocation failed (%s), attempt %d; retrying at %s",
            claim.connection_id,
            error.code,
            claim.attempts,
            row.next_attempt_at,
        )
        return error

    async def _give_up(self, session: AsyncSession, row: PendingRevocation, reason: str) -> None:
        await session.delete(row)
        audit.record(
            session,
            actor=ACTOR,
            action="connection.upstream_revocation_abandoned",
            connection_id=row.connection_id,
            details={"provider": row.provider, "attempts": row.attempts, "reason": reason},
        )
        log.error(
            "ALERT: gave up revoking connection %s at %s after %d attempts (%s); "
            "revoke it in the provider's console",
            row.connection_id,
            row.provider,
            row.attempts,
            reason,
        )


async def _revoke_tokens(provider: OAuthClient, tokens: Tokens, spender: Spender) -> None:
    # The refresh token first: revoking it ends the grant, its access tokens included (RFC 7009 §2.1).
    if tokens.refresh_token is not None:
        await provider.revoke(
            tokens.refresh_token.get_secret_value(), "refresh_token", spender=spender
        )
    if tokens.access_token is not None:
        await provider.revoke(
            tokens.access_token.get_secret_value(), "access_token", spender=spender
        )


async def _learn_connection_id(
    provider: OAuthClient, tokens: Tokens, spender: Spender
) -> str | None:
    """Ask introspection for the provider's connection id, before the tokens stop being active."""
    for token in (tokens.refresh_token, tokens.access_token):
        if token is None:
            continue
        try:
            found = connection_id(
                await provider.introspect(token.get_secret_value(), spender=spender)
            )
        except ProviderUnavailable:
            raise
        except ProviderError as exc:
            log.info("introspection for the provider's connection id failed: %s", exc.code)
            return None
        if found is not None:
            return found
    return None


async def _remember_connection_id(session: AsyncSession, claim: Claim, known: str) -> None:
    """Keep the learned id on the connection, unless a newer grant has replaced the revoked one."""
    connection = await session.get(Connection, claim.connection_id)
    if connection is not None and connection.token_version == claim.revoked_version:
        connection.provider_connection_id = known
