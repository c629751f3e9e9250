"""One refresh at a time, everywhere.

Within a process, concurrent callers for the same connection share one in-flight refresh
(single-flight). Across processes, a lease on the connection row (owner and expiry, taken by a
conditional UPDATE and longer than the token endpoint's timeout) admits one refresher; it re-reads the
row after taking the lease, so a refresh another process finished is used rather than repeated. No
transaction or pooled connection is held while the provider is called, and the new tokens are written
with a compare-and-swap on ``token_version``: a newer refresh token is never overwritten by an older one.

Every refresh is made for a ``Spender`` (the refresher loop, an operator, or the service client whose
call needed it), whose share of the provider's budget it spends; callers that share an in-flight
refresh share its result, except a refusal of another spender's share, after which they try with
their own. A refresh after an upstream 401 (``rejected``) happens at most once per connection per
401 cool-down (``schedule.refresh_after_401``, from the row, so on every replica alike).

Failures are classified: a rejected grant makes the connection ``needs_reauth`` at once; a refresh
token that does not open with the key ring makes it ``credentials_unreadable`` at once, before the
provider is asked anything (``connections.unreadable``); a rejected gateway client trips the provider's
breaker and touches no connection; anything transient is retried later with backoff while the current
token stays in use.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.connections import store, unreadable, upstream_revocation
from gateway.connections.errors import CredentialsUnreadable, ReauthRequired, ensure_usable
from gateway.events.outbox import connection_data, emit
from gateway.kit.clock import rfc3339, utcnow
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.metrics import Metrics
from gateway.models import AuditEvent, Connection, ConnectionStatus
from gateway.providers.errors import (
    ClientRejected,
    GrantRejected,
    ProviderError,
    ProviderUnavailable,
)
from gateway.providers.registry import ProviderRegistry
from gateway.providers.spender import Spender
from gateway.providers.token_response import TokenSet
from gateway.settings import Settings
from gateway.tokens import breaker, schedule
from gateway.tokens.budget import BudgetExhausted, ShareExhausted, TokenBudget

log = logging.getLogger(__name__)

LEASE_POLL_SECONDS = 0.05
ON_DEMAND_RETRY_SECONDS = 10.0


@dataclass(frozen=True)
class Fresh:
    """The connection as it stands after a refresh (ours or another process's)."""

    connection: Connection
    refreshed: bool
    holder_gone: bool = False  # another process held the lease and let it run out


class Refresher:
    """Refreshes connections; one instance per process, shared by the proxy and the refresher loop."""

    def __init__(
        self,
        db: Database,
        keys: KeyRing,
        providers: ProviderRegistry,
        settings: Settings,
        budget: TokenBudget | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.budget = budget
        self._metrics = metrics
        self.providers = providers
        self._db = db
        self.keys = keys
        self._settings = settings
        self.owner = f"{uuid.uuid4().hex[:16]}"
        self._in_flight: dict[uuid.UUID, asyncio.Future[Fresh]] = {}

    async def refresh(
        self,
        connection_id: uuid.UUID,
        *,
        spender: Spender,
        seen_version: int | None = None,
        due_only: bool = False,
        rejected: bool = False,
    ) -> Fresh:
        """Refresh unless someone already moved past ``seen_version``; everyone shares one result.

        ``rejected``: the provider refused the token of ``seen_version`` (a 401).
        """
        pending = self._in_flight.get(connection_id)
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except ShareExhausted as exc:
                if exc.spender == spender.key:
                    raise
            # Another caller's share ran out: this caller spends its own.
            return await self.refresh(
                connection_id,
                spender=spender,
                seen_version=seen_version,
                due_only=due_only,
                rejected=rejected,
            )
        future: asyncio.Future[Fresh] = asyncio.get_running_loop().create_future()
        self._in_flight[connection_id] = future
        try:
            result = await self._refresh_leased(
                connection_id, spender, seen_version, due_only, rejected
            )
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._in_flight[connection_id]

    async def _refresh_leased(
        self,
        connection_id: uuid.UUID,
        spender: Spender,
        seen_version: int | None,
        due_only: bool,
        rejected: bool,
    ) -> Fresh:
        connection = await self._take_lease(connection_id)
        if connection is None:
            # The refresher loop moves on: every replica's loop sees the same due connections, and
            # waiting out each other's leases starved them all of refresh slots.
            fresh = await self._wait_for_other(connection_id, seen_version, patient=not due_only)
            if self._metrics is not None:
                self._metrics.lease_waits.labels(fresh.connection.provider).inc()
            if not fresh.holder_gone:
                return fresh
            # The holder died mid-refresh (its lease ran out): take over rather than give up.
            connection = await self._take_lease(connection_id)
            if connection is None:
                return fresh
        try:
            if (seen_version is not None and connection.token_version != seen_version) or (
                due_only
                and connection.next_refresh_at is not None
                and connection.next_refresh_at > utcnow()
            ):
                return Fresh(connection, refreshed=False)
            if rejected and not schedule.refresh_after_401(
                connection.unauthorized_refresh_at, utcnow(), self._settings
            ):
                self._count(connection.provider, "cooling_down")
                return Fresh(connection, refreshed=False)
            if not due_only:
                self._space_out_on_demand(connection)
            return await self._refresh_holding_lease(connection, spender, rejected)
        finally:
            await self._release_lease(connection_id)

    def _space_out_on_demand(self, connection: Connection) -> None:
        """While a connection's refreshes fail, callers (the proxy, an operator) try the provider at
        most once every ``ON_DEMAND_RETRY_SECONDS``: an outage is not hammered by every call, and its
        end is noticed within seconds, whatever the refresher's own backoff has grown to."""
        error = connection.last_refresh_error
        if not connection.consecutive_failures or not error or "at" not in error:
            return
        now = utcnow()
        retry_at = datetime.fromisoformat(error["at"]) + timedelta(seconds=ON_DEMAND_RETRY_SECONDS)
        if retry_at > now:
            self._count(connection.provider, "backing_off")
            raise ProviderUnavailable(
                f"refreshing this connection failed moments ago ({error.get('code')}); "
                "trying again shortly",
                provider=connection.provider,
                retry_after=max(1.0, (retry_at - now).total_seconds()),
            )

    async def _take_lease(self, connection_id: uuid.UUID) -> Connection | None:
        now = utcnow()
        async with self._db.transaction() as session:
            taken = await session.scalar(
                update(Connection)
                .where(
                    Connection.id == connection_id,
                    or_(
                        Connection.lease_owner.is_(None),
                        Connection.lease_expires_at < now,
                        Connection.lease_owner == self.owner,
                    ),
                )
                .values(
                    lease_owner=self.owner,
                    lease_expires_at=now + timedelta(seconds=self._settings.refresh_lease_seconds),
                )
                .returning(Connection)
                .execution_options(populate_existing=True)
            )
        if taken is None:
            return None
        if taken.status is not ConnectionStatus.ACTIVE:
            await self._release_lease(connection_id)
            ensure_usable(taken)
        return taken

    async def _release_lease(self, connection_id: uuid.UUID) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(Connection)
                .where(Connection.id == connection_id, Connection.lease_owner == self.owner)
                .values(lease_owner=None, lease_expires_at=None)
            )

    async def release_all(self) -> int:
        """Give up every lease this process holds (on shutdown), so no refresh waits for them.

        Best effort: if the database cannot be reached the leases simply run out.
        """
        try:
            async with self._db.transaction() as session:
                result = await session.execute(
                    update(Connection)
                    .where(Connection.lease_owner == self.owner)
                    .values(lease_owner=None, lease_expires_at=None)
                )
        except (SQLAlchemyError, OSError) as exc:
            log.warning("could not give up refresh leases (%s); they expire", type(exc).__name__)
            return 0
        return int(getattr(result, "rowcount", 0) or 0)

    async def _wait_for_other(
        self, connection_id: uuid.UUID, seen_version: int | None, *, patient: bool = True
    ) -> Fresh:
        """Another process holds the lease: use its result once the version moves or the lease ends
        (or at once, unless ``patient``)."""
        deadline = utcnow() + timedelta(seconds=self._settings.refresh_lease_seconds)
        while True:
            async with self._db.transaction() as session:
                current = await session.get(Connection, connection_id, populate_existing=True)
            if current is None:
                raise LookupError(f"connection {connection_id} vanished")
            ensure_usable(current)
            moved = seen_version is not None and current.token_version != seen_version
            if moved or current.lease_owner is None or not patient or utcnow() > deadline:
                return Fresh(current, refreshed=False)
            if current.lease_expires_at is not None and current.lease_expires_at < utcnow():
                return Fresh(current, refreshed=False, holder_gone=True)
            await asyncio.sleep(LEASE_POLL_SECONDS)

    async def _refresh_holding_lease(
        self, connection: Connection, spender: Spender, rejected: bool
    ) -> Fresh:
        provider = self.providers.get(connection.provider)
        try:
            refresh_token = store.refresh_token(self.keys, connection)
        except CredentialsUnreadable as exc:
            self._count(connection.provider, "credentials_unreadable")
            await self._unreadable(connection, exc)
            raise
        now = utcnow()
        # A probe may take as long as a token request can.
        probe_seconds = (
            self._settings.http_connect_timeout_seconds + self._settings.http_read_timeout_seconds
        )
        async with self._db.transaction() as session:
            admission = await breaker.admit(session, connection.provider, now, probe_seconds)
        if not admission.allowed:
            self._count(connection.provider, "breaker_open")
            closed_at = admission.closed_until or now
            raise ProviderUnavailable(
                f"{connection.provider} refuses the gateway's client; retrying after {closed_at:%H:%M:%S}",
                provider=connection.provider,
                retry_after=max(1.0, (closed_at - now).total_seconds()),
            )
        if refresh_token is None:
            return await self._grant_lost(connection, "no_refresh_token", "no refresh token")
        try:
            tokens = await provider.refresh(refresh_token, spender=spender)
        except GrantRejected as exc:
            self._count(connection.provider, "reauth_required")
            return await self._grant_lost(connection, exc.code, exc.message)
        except ClientRejected as exc:
            self._count(connection.provider, "client_rejected")
            await self._client_rejected(connection.provider, exc, probe=admission.probe)
            raise
        except BudgetExhausted:
            # Not a failure: nothing was sent; the loop comes back when there is room.
            self._count(connection.provider, "deferred")
            raise
        except ProviderError as exc:
            self._count(connection.provider, "transient")
            await self._transient_failure(connection, exc)
            raise
        self._count(connection.provider, "success")
        lifetime = await self._lifetime(provider, tokens, spender)
        stored = await self._store_refreshed(connection, tokens, lifetime, rejected)
        return Fresh(stored, refreshed=True)

    def _count(self, provider: str, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.refreshes.labels(provider, outcome).inc()

    async def _lifetime(self, provider: Any, tokens: TokenSet, spender: Spender) -> int:
        if tokens.expires_in is not None:
            return tokens.expires_in
        try:
            info = await provider.introspect(
                tokens.access_token.get_secret_value(), spender=spender
            )
        except ProviderError:
            info = {}
        exp = info.get("exp")
        if isinstance(exp, int | float):
            return max(1, int(exp - utcnow().timestamp()))
        return self._settings.default_token_lifetime_seconds

    async def _store_refreshed(
        self, connection: Connection, tokens: TokenSet, lifetime: int, rejected: bool
    ) -> Connection:
        """Write the provider's new tokens (compare-and-swap on the version read with the lease).

        A rotated refresh token exists nowhere else, so a database outage does not lose it at once:
        the write is tried again for a third of the lease (it is a compare-and-swap, so a commit
        whose answer was lost reads as a lost race that kept our tokens)."""
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
                return None, await self._lost_race(session, connection, tokens, now)
            recovering = current.consecutive_failures > 0
            store.seal_tokens(self.keys, current, tokens)
            current.token_version += 1
            current.expires_at = now + timedelta(seconds=lifetime)
            current.token_lifetime_seconds = lifetime
            current.next_refresh_at = schedule.next_refresh_at(now, lifetime, self._settings)
            current.last_refreshed_at = now
            if rejected:
                current.unauthorized_refresh_at = now
            current.last_refresh_error = None
            current.consecutive_failures = 0
            if tokens.scopes is not None:
                current.scopes = list(tokens.scopes)
            await breaker.reset(session, current.provider)
            if recovering:
                await self._event(session, current, "connection.recovered", "refresh_succeeded")
            return current, None

        current, winner = await self._db.persist(
            write, within=self._settings.refresh_lease_seconds / 3
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

    async def _lost_race(
        self, session: AsyncSession, connection: Connection, tokens: TokenSet, now: datetime
    ) -> Connection:
        """Someone wrote the token columns while the provider answered us: their write wins."""
        winner = await session.get(Connection, connection.id, populate_existing=True)
        assert winner is not None
        if winner.status is ConnectionStatus.REVOKED:
            # Revoked meanwhile: the tokens we were just given must not outlive the connection.
            upstream_revocation.add(
                session,
                self.keys,
                winner,
                upstream_revocation.Tokens(tokens.access_token, tokens.refresh_token),
                self._settings,
                now,
            )
        else:
            # Our lease ran out and another refresh (or a re-connect) wrote newer tokens.
            log.error(
                "refresh of %s lost its compare-and-swap; keeping the newer tokens", connection.id
            )
        return winner

    async def _grant_lost(self, connection: Connection, code: str, message: str) -> Fresh:
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
                        actor="gateway:refresher",
                        action="connection.needs_reauth",
                        connection_id=current.id,
                        details={"reason": code},
                    )
                )
                await self._event(session, current, "connection.needs_reauth", code)
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

    async def _unreadable(self, connection: Connection, exc: CredentialsUnreadable) -> None:
        async with self._db.transaction() as session:
            current = await session.get(Connection, connection.id, with_for_update=True)
            assert current is not None
            if current.token_version == connection.token_version:
                endpoints = self._settings.event_endpoints
                await unreadable.mark(session, endpoints, current, "refresh_token", exc)

    async def _client_rejected(self, provider: str, exc: ProviderError, *, probe: bool) -> None:
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

    async def _transient_failure(self, connection: Connection, exc: ProviderError) -> None:
        now = utcnow()
        retry_after = exc.retry_after if isinstance(exc, ProviderUnavailable) else None
        async with self._db.transaction() as session:
            current = await session.get(Connection, connection.id, with_for_update=True)
            assert current is not None
            current.consecutive_failures += 1
            current.last_refresh_error = _error(exc.code, exc.message, now)
            delay = schedule.backoff_seconds(current.consecutive_failures, retry_after)
            current.next_refresh_at = now + timedelta(seconds=delay)
            if current.consecutive_failures == 1:
                await self._event(session, current, "connection.refresh_failed", exc.code)
        log.warning(
            "refresh of %s failed (%s); retrying in %.0fs",
            connection.id,
            exc.code,
            delay,
            extra={"connection_id": connection.id, "provider": connection.provider},
        )

    async def _event(
        self, session: AsyncSession, connection: Connection, event_type: str, reason: str
    ) -> None:
        await emit(
            session,
            self._settings.event_endpoints,
            event_type,
            connection_data(connection, reason),
        )


def _error(code: str, message: str, at: datetime) -> dict[str, str]:
    return {"code": code, "message": message[:300], "at": rfc3339(at)}
