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

A client-credentials connection (``AuthMode.CLIENT_CREDENTIALS``) has no refresh token: its
refresh is a new exchange of the gateway's client credentials, under the same lease, breaker and
budget.

Failures are classified: a rejected grant makes the connection ``needs_reauth`` at once; a refresh
token that does not open with the key ring makes it ``credentials_unreadable`` at once, before the
provider is asked anything (``tokens.unreadable``); a rejected gateway client trips the provider's
breaker and touches no connection; anything transient is retried later with backoff while the current
token stays in use.

The refresher loop's cycles refresh in batches (``tokens.batch``); an on-demand refresh of a
connection a batch is refreshing waits for the batch's result. The lease is ``tokens.lease``; what
each outcome writes is ``tokens.outcomes``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta

from gateway.exceptions import CredentialsUnreadable
from gateway.kit.clock import utcnow
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.metrics import Metrics
from gateway.models import Connection
from gateway.providers.client import OAuthClient
from gateway.providers.errors import (
    ClientRejected,
    GrantRejected,
    ProviderError,
    ProviderUnavailable,
)
from gateway.providers.registry import ProviderRegistry
from gateway.providers.spender import Spender
from gateway.settings import Settings
from gateway.tokens import breaker, obtain, schedule
from gateway.tokens.batch import Batches, Deferred
from gateway.tokens.budget import BudgetExhausted, ShareExhausted, TokenBudget
from gateway.tokens.lease import Fresh, Leases, fail
from gateway.tokens.outcomes import Outcomes

log = logging.getLogger(__name__)

ON_DEMAND_RETRY_SECONDS = 10.0


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
        self._leases = Leases(db, settings)
        self._outcomes = Outcomes(db, keys, settings)
        self._in_flight: dict[uuid.UUID, asyncio.Future[Fresh]] = {}
        self._running: set[asyncio.Task[None]] = set()  # on-demand refreshes under way
        self._batches = Batches(
            db,
            keys,
            providers,
            settings,
            budget,
            metrics,
            self._leases,
            self._outcomes,
            self._in_flight,
        )

    @property
    def owner(self) -> str:
        """The owner id this process's refresh leases carry."""
        return self._leases.owner

    async def refresh_due(self, limit: int) -> int:
        """Refresh a batch of at most ``limit`` due connections (``tokens.batch``); returns how
        many were claimed."""
        return await self._batches.refresh_due(limit)

    @property
    def more_due(self) -> bool:
        """Whether the last cycle left due connections it could refresh at once (``tokens.batch``):
        the loop goes round again without waiting its interval."""
        return self._batches.more_due

    async def release_all(self) -> int:
        """Give up every lease this process holds (on shutdown), so no refresh waits for them;
        first the on-demand refreshes under way finish, so that tokens the provider has issued
        are written (or given up once their lease runs low: ``Outcomes.refreshed``)."""
        if self._running:
            await asyncio.wait(set(self._running))
        return await self._leases.release_all()

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
            except Deferred:
                pass
            # Another caller's share ran out, or a batch put the connection off: this caller
            # refreshes on its own.
            return await self.refresh(
                connection_id,
                spender=spender,
                seen_version=seen_version,
                due_only=due_only,
                rejected=rejected,
            )
        future: asyncio.Future[Fresh] = asyncio.get_running_loop().create_future()
        self._in_flight[connection_id] = future
        # The refresh is the process's, not the caller's: a caller cancelled (a client gone, a
        # deadline) stops waiting, while the refresh goes on to write what the provider issued
        # and to give up its lease only then.
        running = asyncio.create_task(
            self._share(
                future,
                connection_id,
                self._refresh_leased(connection_id, spender, seen_version, due_only, rejected),
            )
        )
        self._running.add(running)
        running.add_done_callback(self._running.discard)
        return await asyncio.shield(future)

    async def _share(
        self,
        future: asyncio.Future[Fresh],
        connection_id: uuid.UUID,
        refreshing: Coroutine[object, object, Fresh],
    ) -> None:
        """Hand ``refreshing``'s result to everyone waiting on ``future``."""
        try:
            result = await refreshing
        except asyncio.CancelledError:
            future.cancel()  # the process is shutting its loop down
            raise
        except BaseException as exc:
            fail(future, exc)
            if not isinstance(exc, Exception):
                raise
        else:
            if not future.done():
                future.set_result(result)
        finally:
            del self._in_flight[connection_id]

    def _answer(self, connection_id: uuid.UUID) -> Callable[[Exception], None]:
        """What answers the callers of a refresh whose write meets a database outage: with that
        outage (a 503 for them to retry), at once. The write goes on (``Outcomes.refreshed``), and
        until it ends a caller that comes again shares its refresh, so gets the same answer."""

        def answer(outage: Exception) -> None:
            waiting = self._in_flight.get(connection_id)
            if waiting is not None:
                fail(waiting, outage)

        return answer

    async def _refresh_leased(
        self,
        connection_id: uuid.UUID,
        spender: Spender,
        seen_version: int | None,
        due_only: bool,
        rejected: bool,
    ) -> Fresh:
        connection = await self._leases.take(connection_id)
        if connection is None:
            # The refresher loop moves on rather than wait: every replica's loop sees the same due
            # connections, and waiting out each other's leases would leave none of them a slot.
            fresh = await self._leases.wait_for_other(
                connection_id, seen_version, patient=not due_only
            )
            if self._metrics is not None:
                self._metrics.lease_waits.labels(fresh.connection.provider).inc()
            if not fresh.holder_gone:
                return fresh
            # The holder died mid-refresh (its lease ran out): take over rather than give up.
            connection = await self._leases.take(connection_id)
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
            await self._leases.release(connection_id)

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

    async def _refresh_holding_lease(
        self, connection: Connection, spender: Spender, rejected: bool
    ) -> Fresh:
        provider = self.providers.get(connection.provider)
        call = await self._token_request(provider, connection, spender)
        now = utcnow()
        # A probe may take as long as a token request can.
        probe_seconds = obtain.longest_call_seconds(self._settings)
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
        try:
            tokens = await call()
        except GrantRejected as exc:
            self._count(connection.provider, "reauth_required")
            await self._outcomes.grant_lost(connection, exc.code, exc.message)
        except ClientRejected as exc:
            self._count(connection.provider, "client_rejected")
            await self._outcomes.client_rejected(connection.provider, exc, probe=admission.probe)
            raise
        except BudgetExhausted:
            # Not a failure: nothing was sent; the loop comes back when there is room.
            self._count(connection.provider, "deferred")
            raise
        except ProviderError as exc:
            self._count(connection.provider, "transient")
            await self._outcomes.transient_failure(connection, exc, spender)
            raise
        self._count(connection.provider, "success")
        lifetime = await obtain.lifetime(provider, tokens, spender, self._settings)
        kept = obtain.allowed_settings(provider, connection, tokens)
        stored = await self._outcomes.refreshed(
            connection, tokens, lifetime, rejected, spender, kept, self._answer(connection.id)
        )
        return Fresh(stored, refreshed=True)

    async def _token_request(
        self, provider: OAuthClient, connection: Connection, spender: Spender
    ) -> obtain.TokenCall:
        """What obtains the connection's next tokens; a refresh token that does not open, or
        none at all, ends here."""
        try:
            call = obtain.token_request(self.keys, provider, connection, spender)
        except CredentialsUnreadable as exc:
            self._count(connection.provider, "credentials_unreadable")
            await self._outcomes.refresh_token_unreadable(connection, exc)
            raise
        if call is None:
            await self._outcomes.grant_lost(connection, "no_refresh_token", "no refresh token")
        return call

    def _count(self, provider: str, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.refreshes.labels(provider, outcome).inc()
