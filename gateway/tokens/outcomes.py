"""What the outcome of a refresh writes, each in a transaction of its own: new tokens (a
compare-and-swap on ``token_version``), a grant the provider rejected (``needs_reauth``), a refresh
token that does not open (``credentials_unreadable``), a gateway client the provider rejected (the
breaker), or a transient failure (the next try, backed off); with their audit entries and events.
A refresh that wrote tokens, and each transient failure, also adds one timeline record to its
transaction (rejected grants and unreadable tokens are in the audit trail already)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.events.outbox import connection_data, emit
from gateway.exceptions import CredentialsUnreadable
from gateway.kit.clock import rfc3339, utcnow
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import AuditEvent, Connection, ConnectionStatus, RecordKind, TimelineRecord
from gateway.providers.errors import ProviderError, ProviderUnavailable
from gateway.providers.spender import Spender
from gateway.providers.token_response import TokenSet
from gateway.settings import Settings
from gateway.tokens import breaker, grant, pending_revocations, schedule, unreadable
from gateway.tokens.errors import ReauthRequired, ensure_usable

log = logging.getLogger(__name__)

ACTOR = "gateway:refresher"
# The part of a refresh lease a write of new tokens leaves unused (``write_within``).
LEASE_MARGIN = 0.1


class Outcomes:
    """Writes the outcomes of this process's refreshes."""

    def __init__(self, db: Database, keys: KeyRing, settings: Settings) -> None:
        self._db = db
        self._keys = keys
        self._settings = settings

    async def refreshed(
        self,
        connection: Connection,
        tokens: TokenSet,
        lifetime: int,
        rejected: bool,
        spender: Spender,
        provider_settings: Mapping[str, str],
        retrying: Callable[[Exception], object] | None = None,
    ) -> Connection:
        """Write the provider's new tokens (compare-and-swap on the version read with the lease),
        and the ``provider_settings`` its token response gave (checked by the caller), each over
        the setting of its name; the timeline record names the settings that changed.

        A rotated refresh token exists nowhere else, so a database outage does not lose it at once:
        the write is tried again for as long as the lease taken for this refresh holds
        (``write_within``): no other refresher can redeem the spent refresh token meanwhile. It is a
        compare-and-swap, so a commit whose answer was lost is read back (``lost_race``) and found
        to hold our tokens, rather than applied twice. ``retrying`` is told of each failed attempt
        (``Database.persist``)."""
        now = utcnow()

        async def write(session: AsyncSession) -> tuple[Connection | None, Connection | None]:
            current = await session.scalar(
                select(Connection)
                .where(
                    Connection.id == connection.id,
                    Connection.token_version == connection.token_version,
                )
                .with_for_update()
            )
            if current is None:
                return None, await self.lost_race(session, connection, tokens, now)
            recovering = current.consecutive_failures > 0
            grant.write(
                self._keys, current, tokens, lifetime=lifetime, now=now, settings=self._settings
            )
            current.last_refreshed_at = now
            if rejected:
                current.unauthorized_refresh_at = now
            details: dict[str, object] = {"spender": spender.key}
            if rejected:
                details["after_unauthorized"] = True  # the proxy's call met a 401
            changed = sorted(
                name
                for name, value in provider_settings.items()
                if current.provider_settings.get(name) != value
            )
            if changed:
                current.provider_settings = {**current.provider_settings, **provider_settings}
                details["settings_changed"] = changed
            _record(session, current, RecordKind.REFRESHED, now, details)
            await breaker.reset(session, current.provider)
            if recovering:
                await self.event(session, current, "connection.recovered", "refresh_succeeded")
            return current, None

        current, winner = await self._db.persist(
            write, within=write_within(connection, self._settings, now), retrying=retrying
        )
        if winner is not None:
            ensure_usable(winner)  # a revoked one raises, its tokens' queue entry committed
            return winner
        assert current is not None
        log.info(
            "refreshed connection %s (version %s)",
            connection.id,
            current.token_version,
            extra={"connection_id": connection.id, "provider": connection.provider},
        )
        return current

    async def lost_race(
        self, session: AsyncSession, connection: Connection, tokens: TokenSet, now: datetime
    ) -> Connection:
        """The token columns moved past the version our refresh read: their write wins. It may be
        our own, from an attempt whose COMMIT was applied but whose answer was lost (the
        connection dropped during it): then the row holds our access token and nothing is lost."""
        winner = await session.get(Connection, connection.id, populate_existing=True)
        assert winner is not None
        if _holds(self._keys, winner, tokens):
            log.info("refresh of %s: a write whose answer was lost had landed", connection.id)
        elif winner.status is ConnectionStatus.REVOKED:
            # Revoked meanwhile: the tokens we were just given must not outlive the connection.
            pending_revocations.add(
                session,
                self._keys,
                winner,
                pending_revocations.Tokens(tokens.access_token, tokens.refresh_token),
                self._settings,
                now,
            )
        else:
            # Our lease ran out and another refresh (or a re-connect) wrote newer tokens.
            log.error(
                "refresh of %s lost its compare-and-swap; keeping the newer tokens", connection.id
            )
        return winner

    async def grant_lost(self, connection: Connection, code: str, message: str) -> NoReturn:
        now = utcnow()
        async with self._db.transaction() as session:
            current = await session.get(Connection, connection.id, with_for_update=True)
            assert current is not None
            if current.token_version == connection.token_version:
                current.status = ConnectionStatus.NEEDS_REAUTH
                current.next_refresh_at = None
                current.last_refresh_error = _error(code, message, now)
                current.consecutive_failures += 1
                session.add(
                    AuditEvent(
                        actor=ACTOR,
                        action="connection.needs_reauth",
                        connection_id=current.id,
                        details={"reason": code, "labels": current.labels},
                    )
                )
                await self.event(session, current, "connection.needs_reauth", code)
        log.warning(
            "connection %s needs re-authorization: %s",
            connection.id,
            code,
            extra={"connection_id": connection.id, "provider": connection.provider},
        )
        raise ReauthRequired(
            "the provider rejected the user's grant; they must connect again",
            details={"connection_id": str(connection.id), "reason": code},
        )

    async def refresh_token_unreadable(
        self, connection: Connection, exc: CredentialsUnreadable
    ) -> None:
        async with self._db.transaction() as session:
            current = await session.get(Connection, connection.id, with_for_update=True)
            assert current is not None
            if current.token_version == connection.token_version:
                endpoints = self._settings.event_endpoints
                await unreadable.mark(session, endpoints, current, "refresh_token", exc)

    async def client_rejected(self, provider: str, exc: ProviderError, *, probe: bool) -> None:
        async with self._db.transaction() as session:
            until, opened = await breaker.trip(
                session,
                provider,
                exc.code,
                utcnow(),
                self._settings.breaker_open_seconds,
                probe=probe,
            )
            if opened:
                await emit(
                    session,
                    self._settings.event_endpoints,
                    "provider.client_error",
                    {"provider": provider, "reason": exc.code, "retry_at": rfc3339(until)},
                )
        log.error(
            "ALERT: %s rejects the gateway's client (%s); breaker open until %s",
            provider,
            exc.code,
            until,
        )

    async def transient_failure(
        self, connection: Connection, exc: ProviderError, spender: Spender
    ) -> None:
        now = utcnow()
        retry_after = exc.retry_after if isinstance(exc, ProviderUnavailable) else None
        async with self._db.transaction() as session:
            current = await session.get(Connection, connection.id, with_for_update=True)
            assert current is not None
            current.consecutive_failures += 1
            current.last_refresh_error = _error(exc.code, exc.message, now)
            delay = schedule.backoff_seconds(current.consecutive_failures, retry_after)
            current.next_refresh_at = now + timedelta(seconds=delay)
            failure = {"spender": spender.key, "code": exc.code, "message": exc.message[:300]}
            _record(session, current, RecordKind.REFRESH_FAILED, now, failure)
            if current.consecutive_failures == 1:
                await self.event(session, current, "connection.refresh_failed", exc.code)
        log.warning(
            "refresh of %s failed (%s); retrying in %.0fs",
            connection.id,
            exc.code,
            delay,
            extra={"connection_id": connection.id, "provider": connection.provider},
        )

    async def event(
        self, session: AsyncSession, connection: Connection, event_type: str, reason: str
    ) -> None:
        await emit(
            session,
            self._settings.event_endpoints,
            event_type,
            await connection_data(session, connection, reason),
        )


def write_within(connection: Connection, settings: Settings, now: datetime) -> float:
    """Seconds a refresh's write may keep being tried: until ``LEASE_MARGIN`` of a lease before
    the lease taken for it (``connection.lease_expires_at``) runs out, after which another
    refresher may take the connection and redeem the refresh token ours spent. The margin covers
    the clocks of replicas that disagree a little."""
    if connection.lease_expires_at is None:  # not leased: the least a lease leaves
        return settings.refresh_lease_seconds * LEASE_MARGIN
    left = (connection.lease_expires_at - now).total_seconds()
    return max(0.0, left - settings.refresh_lease_seconds * LEASE_MARGIN)


def _holds(keys: KeyRing, connection: Connection, tokens: TokenSet) -> bool:
    """Whether ``connection`` stores ``tokens``' access token (a new one at every refresh)."""
    if connection.access_token is None:
        return False
    try:
        stored = grant.access_token(keys, connection)
    except CredentialsUnreadable:
        return False
    return stored == tokens.access_token.get_secret_value()


def _record(
    session: AsyncSession,
    connection: Connection,
    kind: RecordKind,
    at: datetime,
    details: Mapping[str, object],
) -> None:
    session.add(
        TimelineRecord(
            connection_id=connection.id,
            occurred_at=at,
            kind=kind,
            actor=ACTOR,
            details=dict(details),
        )
    )


def _error(code: str, message: str, at: datetime) -> dict[str, str]:
    return {"code": code, "message": message[:300], "at": rfc3339(at)}
