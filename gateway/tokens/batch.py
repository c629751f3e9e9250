"""The refresher loop's cycle, in batches.

A cycle claims up to a batch of due connections in one statement (``Leases.claim``: nearest
expiry first, their leases taken, their rows returned, rows locked by another replica's claim
skipped). It then decides for the whole batch at once: the refresh tokens are opened (one that
does not open marks its connection ``credentials_unreadable``), each provider's breaker is read
once a cycle, in one statement (a half-open provider gets one call, the probe; a breaker tripped
elsewhere during the cycle stops its calls at their first refusal), and each rate-limited
provider's budget is taken in one transaction for as many connections as it has room for, nearest
expiry first (``within_budget``). What is left out is deferred: its lease is given up, nothing is
recorded, a later cycle takes it.

The provider calls are made concurrently, at most ``refresher_concurrency`` at a time (a round),
over the process's pooled client, and a cycle claims ahead of what it sends: ``QUEUED_ROUNDS``
rounds at first, then another whenever a round's calls have been answered (``CallSlots``), until
it has claimed its batch or nothing more is due (a slot is held by the call alone, not by the
writing of its outcome). So a claim serves a round of connections and has a round's calls' time
to come back, and a claimed connection waits for its slot behind at most the rounds claimed before
it: it starts within two token calls' time (the token endpoint's timeout at worst, a few
milliseconds when the provider answers), while its lease lasts longer than that (an on-demand
refresh in another replica waits for that lease). A call starts only while its lease leaves about
what a lease just taken would (the token endpoint's timeout and most of the spare time after it),
so that a lease still admits one refresher per connection: a lease that ran lower is taken again
first, and the connection deferred if another process has it or refreshed it meanwhile.
Successes are written in groups as they arrive (``writeback``); failures are written one
connection at a time, as a single refresh writes them (``outcomes``), and their leases given up.
When a provider that could not be reached answers again, its connections waiting out a backoff
are made due at once (``outage``), and the due set is read afresh (``Leases.forget_due``).

Within the process, each claimed connection is an in-flight refresh like any other: an on-demand
refresh of it (the proxy, a 401, an operator) waits for the batch's result instead of calling
the provider again (and makes its own if the batch puts it off). A connection an on-demand refresh
of this process was already working on when it was claimed is left to that refresh: the lease,
held under this process's owner id, passes to it, and it gives it up. Across processes the lease
and the compare-and-swap decide, as for single refreshes.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from gateway.exceptions import CredentialsUnreadable, GatewayError
from gateway.kit.clock import utcnow
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.metrics import Metrics
from gateway.models import Connection
from gateway.providers.errors import (
    ClientRejected,
    GrantRejected,
    ProviderError,
    ProviderUnavailable,
)
from gateway.providers.registry import ProviderRegistry
from gateway.providers.spender import REFRESHER
from gateway.settings import Settings
from gateway.tokens import breaker, obtain
from gateway.tokens.budget import BudgetExhausted, TokenBudget
from gateway.tokens.errors import ReauthRequired
from gateway.tokens.lease import Fresh, Leases, fail
from gateway.tokens.outage import Outages
from gateway.tokens.outcomes import Outcomes
from gateway.tokens.slots import CallSlots, Slot
from gateway.tokens.writeback import GroupWriter, Refreshed

log = logging.getLogger(__name__)

LEASE_SPARE_KEPT = 0.75


class Batches:
    """Refreshes due connections a batch at a time, for one process's refresher."""

    def __init__(
        self,
        db: Database,
        keys: KeyRing,
        providers: ProviderRegistry,
        settings: Settings,
        budget: TokenBudget | None,
        metrics: Metrics | None,
        leases: Leases,
        outcomes: Outcomes,
        in_flight: dict[uuid.UUID, asyncio.Future[Fresh]],
    ) -> None:
        self._db = db
        self._keys = keys
        self._providers = providers
        self._settings = settings
        self._budget = budget
        self._metrics = metrics
        self._leases = leases
        self._outcomes = outcomes
        self._in_flight = in_flight
        self._outages = Outages(db)
        # Whether the last cycle put connections off for their provider's sake (its breaker, its
        # budget), and whether a provider it found down answered again.
        self.held_back = False
        self.recovered = False
        self._full = False
        self._halting = False  # the cycle failed or was cancelled: calls not yet sent are put off
        # This process's batches' refreshes not settled yet (claims never overlap: a lease
        # this process holds is not claimed again).
        self._mine: dict[uuid.UUID, asyncio.Future[Fresh]] = {}

    @property
    def more_due(self) -> bool:
        """Whether the last cycle left due connections it could refresh at once: it claimed a
        full batch and nothing held it back, or a provider it found down answered again."""
        return (self._full and not self.held_back) or self.recovered

    async def refresh_due(self, limit: int) -> int:
        """One cycle: up to ``limit`` due connections, claimed a round at a time (``QUEUED_ROUNDS``
        rounds of calls at first, then one more whenever a round has been answered); returns how
        many were claimed."""
        self.held_back = self.recovered = self._halting = False
        slots = CallSlots(self._settings.refresher_concurrency)
        writer = GroupWriter(self._db, self._keys, self._settings, self._leases, self._outcomes)
        stopped: set[str] = set()  # providers that refused the gateway's client in this cycle
        verdicts: dict[str, breaker.BreakerVerdict] = {}  # the providers' breakers, read once
        running: set[asyncio.Task[None]] = set()
        taken: list[Connection] = []
        passed: set[uuid.UUID] = set()  # every connection this cycle claimed
        claimed = 0
        try:
            while claimed < limit:
                wanted = min(limit - claimed, slots.room)
                rows = await self._leases.claim(wanted, passed)
                passed.update(row.id for row in rows)
                claimed += len(rows)
                # No await between the claim and this: an on-demand refresh either registered
                # first (and keeps its connection) or finds the batch's refresh to wait for.
                mine = [row for row in rows if row.id not in self._in_flight]
                for row in mine:
                    self._in_flight[row.id] = self._mine[row.id] = asyncio.Future()
                taken += mine
                for row, call, probe in await self._ready(mine, verdicts):
                    slot = slots.queue()
                    running.add(
                        asyncio.create_task(self._one(row, call, probe, writer, stopped, slot))
                    )
                if len(rows) < wanted:
                    break  # nothing more is due
                await slots.round_ended()
                ended = {task for task in running if task.done()}
                running -= ended
                _log_failures(ended)
                if self.recovered:
                    break  # the backlog is due again, the next cycle takes it in order
        except BaseException:
            # The cycle fails (a claim met an outage) or is cancelled (shutdown): calls still
            # waiting for a slot are put off, but none already sent is cancelled, nor its write.
            # The provider may have rotated the refresh token already; only the tokens it sent
            # back can be used now (``docs/failures.md``).
            self._halting = True
            raise
        finally:
            # Every call is waited for, whatever happens to the others: a connection is handed
            # back to on-demand refreshes only once nothing of the batch works on it any more.
            if running:
                await asyncio.wait(running)
                _log_failures(running)
            for row in taken:
                if row.id in self._mine:  # cancelled before it got to this one
                    self._settle(row, _deferred(row))
            if self._budget is not None:
                for provider in {row.provider for row in taken}:
                    self._budget.forfeit(provider, REFRESHER)
        self._full = claimed >= limit
        return claimed

    async def _ready(
        self, claimed: list[Connection], verdicts: dict[str, breaker.BreakerVerdict]
    ) -> list[tuple[Connection, obtain.TokenCall, bool]]:
        """The claimed connections whose token request may go now, with it and whether it is
        its provider's breaker probe; the others' outcomes written or deferred."""
        calls: dict[uuid.UUID, obtain.TokenCall] = {}
        for row in claimed:
            call = await self._open(row)
            if call is not None:
                calls[row.id] = call
        ready = [row for row in claimed if row.id in calls]
        admitted, probes = await self._admit(ready, verdicts)
        paid = set(await within_budget(self._budget, [(row.id, row.provider) for row in admitted]))
        await self._defer([row for row in admitted if row.id not in paid], held_back=True)
        return [(row, calls[row.id], row.id in probes) for row in admitted if row.id in paid]

    async def _open(self, row: Connection) -> obtain.TokenCall | None:
        """The connection's token request; None (its outcome written, its lease given up) when
        there is nothing to send."""
        try:
            provider = self._providers.get(row.provider)
            call = obtain.token_request(self._keys, provider, row, REFRESHER)
            if call is None:
                await self._outcomes.grant_lost(row, "no_refresh_token", "no refresh token")
            return call
        except CredentialsUnreadable as exc:
            self._count(row.provider, "credentials_unreadable")
            await self._outcomes.refresh_token_unreadable(row, exc)
            await self._give_up(row, exc)
        except GatewayError as exc:
            await self._give_up(row, exc)
        return None

    async def _admit(
        self, rows: list[Connection], verdicts: dict[str, breaker.BreakerVerdict]
    ) -> tuple[list[Connection], set[uuid.UUID]]:
        """The rows their providers' breakers let through, and which of them are probes; the
        others deferred. ``verdicts`` holds the cycle's: a provider's breaker is read once a
        cycle, and a probe's verdict admits one call, after which the provider is refused."""
        if not rows:
            return [], set()
        now = utcnow()
        unread = sorted({row.provider for row in rows} - verdicts.keys())
        if unread:
            probe_seconds = obtain.longest_call_seconds(self._settings)
            async with self._db.transaction() as session:
                verdicts.update(await breaker.admit_many(session, unread, now, probe_seconds))
        admitted: list[Connection] = []
        probes: set[uuid.UUID] = set()
        refused: list[Connection] = []
        for row in rows:
            verdict = verdicts[row.provider]
            if not verdict.allowed:
                self._count(row.provider, "breaker_open")
                refused.append(row)
            else:
                admitted.append(row)
                if verdict.probe:
                    probes.add(row.id)
                    verdicts[row.provider] = breaker.BreakerVerdict(allowed=False)
        await self._defer(refused, held_back=True)
        return admitted, probes

    async def _one(
        self,
        row: Connection,
        call: obtain.TokenCall,
        probe: bool,
        writer: GroupWriter,
        stopped: set[str],
        slot: Slot,
    ) -> None:
        try:
            async with slot:
                if self._halting:
                    await self._defer([row])
                    return
                if row.provider in stopped:
                    await self._defer([row], held_back=True)
                    return
                if self.recovered:
                    # Claimed before the backlog was made due again, which expires sooner: it
                    # goes first, in the next cycle's order.
                    await self._defer([row])
                    return
                if not await self._lease_covers_a_call(row):
                    await self._defer([row])
                    return
                tokens = await call()
                if self._outages.is_down(row.provider):
                    # Before the slot is given back: the next claim already sees the backlog.
                    await self._outages.recovered(row.provider, utcnow())
                    self._leases.forget_due()
                    self.recovered = True
                provider = self._providers.get(row.provider)
                lifetime = await obtain.lifetime(provider, tokens, REFRESHER, self._settings)
                kept = obtain.allowed_settings(provider, row, tokens)
        except GrantRejected as exc:
            self._count(row.provider, "reauth_required")
            try:
                await self._outcomes.grant_lost(row, exc.code, exc.message)
            except ReauthRequired as lost:
                await self._give_up(row, lost)
            return
        except ClientRejected as exc:
            self._count(row.provider, "client_rejected")
            stopped.add(row.provider)
            await self._outcomes.client_rejected(row.provider, exc, probe=probe)
            await self._give_up(row, exc)
            return
        except BudgetExhausted as exc:
            self._count(row.provider, "deferred")
            await self._give_up(row, exc)
            return
        except ProviderError as exc:
            self._count(row.provider, "transient")
            if isinstance(exc, ProviderUnavailable):
                self._outages.failed(row.provider)
            await self._outcomes.transient_failure(row, exc, REFRESHER)
            await self._give_up(row, exc)
            return
        except GatewayError as exc:  # no longer active when its lease was taken again
            await self._give_up(row, exc)
            return
        self._count(row.provider, "success")
        try:
            stored = await writer.write(Refreshed(row, tokens, lifetime, probe, kept))
        except GatewayError as exc:
            self._settle(row, exc)
            return
        self._settle(row, Fresh(stored, refreshed=True))

    async def _lease_covers_a_call(self, row: Connection) -> bool:
        """Whether the lease leaves a call about what one just taken would: the token endpoint's
        timeout, and most (``LEASE_SPARE_KEPT``) of the lease's spare time after it, for the
        write. One that ran lower while the connection waited for its turn is taken again (False
        when another process has it, or the connection moved on meanwhile)."""
        assert row.lease_expires_at is not None  # claimed
        timeout = self._settings.http_read_timeout_seconds
        spare = max(0.0, self._settings.refresh_lease_seconds - timeout)
        if row.lease_expires_at - utcnow() >= timedelta(seconds=timeout + LEASE_SPARE_KEPT * spare):
            return True
        renewed = await self._leases.take(row.id)
        if renewed is None or renewed.token_version != row.token_version:
            return False
        assert renewed.lease_expires_at is not None  # taken
        row.lease_expires_at = renewed.lease_expires_at
        # Taking it may have waited for a pooled connection: the lease is measured as it stands.
        return renewed.lease_expires_at - utcnow() > timedelta(seconds=timeout)

    async def _give_up(self, row: Connection, why: BaseException) -> None:
        log.info("refresh of %s did not succeed: %s", row.id, getattr(why, "code", why))
        await self._leases.release(row.id)
        self._settle(row, why)

    async def _defer(self, rows: Sequence[Connection], *, held_back: bool = False) -> None:
        """Leave ``rows`` for a later cycle (or whoever waits for them): their leases given up
        together, nothing recorded. ``held_back``: for their provider's sake."""
        if not rows:
            return
        self.held_back = self.held_back or held_back
        await self._leases.release(*(row.id for row in rows))
        for row in rows:
            self._settle(row, _deferred(row))

    def _settle(self, row: Connection, result: Fresh | BaseException) -> None:
        """Hand the result to whoever waits for this batch's refresh of ``row`` (once)."""
        future = self._mine.pop(row.id, None)
        if future is None:
            return
        if self._in_flight.get(row.id) is future:
            del self._in_flight[row.id]
        if isinstance(result, Fresh):
            future.set_result(result)
        else:
            fail(future, result)

    def _count(self, provider: str, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.refreshes.labels(provider, outcome).inc()


class Deferred(Exception):
    """Set on a batch's refresh of a connection it put off (no room in the budget, the breaker
    open, its lease lost): whoever waited for that refresh makes their own."""


def _log_failures(tasks: set[asyncio.Task[None]]) -> None:
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.error("a refresh in the batch failed", exc_info=task.exception())


def _deferred(row: Connection) -> Deferred:
    return Deferred(f"the batch put off refreshing connection {row.id}")


async def within_budget(
    token_budget: TokenBudget | None, due: list[tuple[uuid.UUID, str]]
) -> list[uuid.UUID]:
    """The due connections (nearest expiry first) each provider's budget pays for now, their units
    taken at once as the refresher's credit."""
    if token_budget is None:
        return [connection_id for connection_id, _ in due]
    by_provider: dict[str, list[uuid.UUID]] = defaultdict(list)
    for connection_id, provider in due:
        by_provider[provider].append(connection_id)
    chosen: list[uuid.UUID] = []
    for provider, ids in by_provider.items():
        room = await token_budget.take(provider, REFRESHER, len(ids))
        if room is not None and room < len(ids):
            log.info("%s token budget: refreshing %d of %d due now", provider, room, len(ids))
        chosen.extend(ids if room is None else ids[:room])
    return chosen
