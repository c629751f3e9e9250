"""The provider's rate limit on its OAuth endpoints, spent as one budget by every replica.

Contio allows about 100 OAuth requests per 5 minutes per egress IP. Every request the gateway makes to
a provider's token, revocation, introspection or partner-auth endpoint spends one unit of that
provider's budget for the one it is made for (its ``Spender``), counted in PostgreSQL per spender so
all replicas share the budget and every share. The window slides: it is kept in slots a tenth of a
window wide, and the slots that overlap the last window (the current one and the ten before it) are
counted. That errs on the safe side: a request leaves the count no sooner than a full window after it
was made, and no burst at a boundary can double the rate.

How the window is divided between the refresher, operators and each service client is ``shares``'s
rule. A request over the spender's own share is refused with ``ShareExhausted`` (429); one that
would eat into what is kept for someone else with ``BudgetExhausted`` (503). Both say when to come
back and carry the spender's share (``details.share``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kit.clock import rfc3339
from gateway.kit.db import Database
from gateway.metrics import Metrics
from gateway.providers.errors import ProviderUnavailable
from gateway.providers.spender import Spender
from gateway.settings import ENV_PREFIX, Settings, SettingsError
from gateway.tokens.shares import ShareRules, Verdict

SLOTS_PER_WINDOW = 10
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*([smh]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class Rate:
    """``requests`` per ``seconds``, written ``100/300s`` (also ``100/5m``, ``3600/1h``)."""

    requests: int
    seconds: int

    @classmethod
    def parse(cls, value: str, *, name: str) -> Rate:
        match = _RATE.match(value)
        if match is None or int(match[1]) < 1 or int(match[2]) < 1:
            raise SettingsError(
                f"{name} must look like 100/300s (requests per window), not {value[:40]!r}"
            )
        return cls(int(match[1]), int(match[2]) * _UNIT_SECONDS[match[3]])

    @property
    def slot_seconds(self) -> float:
        return self.seconds / SLOTS_PER_WINDOW

    def daily_requests(self) -> float:
        return self.requests * 86_400 / self.seconds

    def __str__(self) -> str:
        return f"{self.requests}/{self.seconds}s"


def rate_variable(provider: str) -> str:
    return f"{ENV_PREFIX}{re.sub(r'[^A-Z0-9]', '_', provider.upper())}_TOKEN_RATE"


def configured_rate(settings: Settings, provider: str, environ: Mapping[str, str]) -> Rate | None:
    """``GATEWAY_<PROVIDER>_TOKEN_RATE`` (for Contio also the setting); unset means unlimited."""
    variable = rate_variable(provider)
    value = environ.get(variable)
    if value is None and provider == "contio":
        value = settings.contio_token_rate
    return Rate.parse(value, name=variable) if value else None


class BudgetExhausted(ProviderUnavailable):
    """Raised instead of calling the provider when its budget has no room for the spender (what is
    left is kept for others); ``details.share`` is the spender's share."""

    code = "token_budget_exhausted"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        retry_after: float,
        share: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message, provider=provider, retry_after=retry_after)
        self.spender = None if share is None else share.get("spender")
        if share is not None:
            self.details = {**(self.details or {}), "share": dict(share)}


class ShareExhausted(BudgetExhausted):
    """Raised instead of calling the provider when the spender's own share of its budget is spent."""

    status_code = 429
    code = "token_budget_share_exhausted"


@dataclass(frozen=True)
class Usage:
    provider: str
    rate: Rate
    used: int

    @property
    def fraction(self) -> float:
        return self.used / self.rate.requests


@dataclass(frozen=True)
class Window:
    """The last window of one provider's budget as counted now: units used and the oldest slot
    still counted, per spender key."""

    now: datetime
    slot: datetime
    used: dict[str, int]
    oldest: dict[str, datetime]


class TokenBudget:
    """Admits token-endpoint requests per provider and spender within its rate and their shares,
    across every replica."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        environ: Mapping[str, str],
        metrics: Metrics | None = None,
    ) -> None:
        self._db = db
        self._metrics = metrics
        self._settings = settings
        self._environ = environ
        self._rates: dict[str, Rate | None] = {}
        # Units taken ahead by ``take``, per (provider, spender key), not yet spent.
        self._credit: dict[tuple[str, str], int] = {}
        self.rules = ShareRules.of(settings)

    def rate(self, provider: str) -> Rate | None:
        """The provider's configured rate (read once); SettingsError when it is malformed."""
        if provider not in self._rates:
            self._rates[provider] = configured_rate(self._settings, provider, self._environ)
        return self._rates[provider]

    async def spend(self, provider: str, spender: Spender) -> None:
        """Take one unit for a request about to be sent for ``spender``, or raise ShareExhausted or
        BudgetExhausted."""
        await self._admit(provider, spender, take=True)

    async def check(self, provider: str, spender: Spender) -> None:
        """Raise ShareExhausted if ``spender``'s own share is spent, taking nothing: for refusing
        work early (the rest of the window may have room again by the time the work spends)."""
        await self._admit(provider, spender, take=False)

    async def take(self, provider: str, spender: Spender, wanted: int) -> int | None:
        """Take up to ``wanted`` units for ``spender`` at once (as many as its share and the others'
        reserves leave room for), held by this process as credit that ``spend`` uses before it
        counts anew; how many were taken, None when the provider is unlimited. Credit left over
        is given up with ``forfeit`` (it stays counted: the window errs on the safe side)."""
        rate = self.rate(provider)
        if rate is None:
            return None
        async with self._db.transaction() as session:
            await _lock(session, provider)
            window = await _count(session, provider, rate)
            granted = min(wanted, self.rules.room(spender, rate.requests, window.used))
            if granted:
                await _add(session, provider, spender, window, rate, granted)
        key = (provider, spender.key)
        self._credit[key] = self._credit.get(key, 0) + granted
        return granted

    def forfeit(self, provider: str, spender: Spender) -> None:
        """Give up the credit ``take`` left unused."""
        self._credit.pop((provider, spender.key), None)

    async def _admit(self, provider: str, spender: Spender, *, take: bool) -> None:
        rate = self.rate(provider)
        if rate is None:
            return
        key = (provider, spender.key)
        if take and self._credit.get(key, 0) > 0:
            self._credit[key] -= 1
            return
        async with self._db.transaction() as session:
            if take:
                await _lock(session, provider)
            window = await _count(session, provider, rate)
            verdict = self.rules.verdict(spender, rate.requests, window.used)
            if verdict is Verdict.SHARE_SPENT or (take and verdict is Verdict.BUDGET_SPENT):
                raise self._refusal(provider, spender, rate, window, verdict)
            if take:
                await _add(session, provider, spender, window, rate, 1)

    def _refusal(
        self, provider: str, spender: Spender, rate: Rate, window: Window, verdict: Verdict
    ) -> BudgetExhausted:
        if self._metrics is not None:
            self._metrics.budget_refusals.labels(provider, spender.kind.value).inc()
        own = verdict is Verdict.SHARE_SPENT
        # Room comes back when the oldest slot counted against the limit that was hit leaves.
        counted = [window.oldest[spender.key]] if own else list(window.oldest.values())
        oldest = min(counted, default=window.slot)
        frees_at = oldest + timedelta(seconds=rate.seconds + rate.slot_seconds)
        share = {
            "spender": spender.key,
            "limit": self.rules.cap(spender, rate.requests),
            "used": window.used.get(spender.key, 0),
            "window_seconds": rate.seconds,
            "resets_at": rfc3339(frees_at),
        }
        retry_after = max(1.0, (frees_at - window.now).total_seconds())
        if own:
            return ShareExhausted(
                f"{spender}'s share of {provider}'s token-endpoint budget is spent "
                f"({share['used']} of {share['limit']} per {rate.seconds}s); try again later",
                provider=provider,
                retry_after=retry_after,
                share=share,
            )
        return BudgetExhausted(
            f"{provider}'s token-endpoint budget ({rate}) has no room left for {spender}; "
            "try again shortly",
            provider=provider,
            retry_after=retry_after,
            share=share,
        )

    async def available(self, provider: str, spender: Spender) -> int | None:
        """Units ``spender`` could spend now; None when the provider is unlimited."""
        rate = self.rate(provider)
        if rate is None:
            return None
        async with self._db.transaction() as session:
            window = await _count(session, provider, rate)
        return self.rules.room(spender, rate.requests, window.used)

    async def usage(self, provider: str) -> Usage | None:
        rate = self.rate(provider)
        if rate is None:
            return None
        async with self._db.transaction() as session:
            window = await _count(session, provider, rate)
        return Usage(provider, rate, sum(window.used.values()))


async def _lock(session: AsyncSession, provider: str) -> None:
    """One short critical section per provider: count the window, then take units."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"token_budget:{provider}"}
    )


async def _add(
    session: AsyncSession, provider: str, spender: Spender, window: Window, rate: Rate, units: int
) -> None:
    """Count ``units`` more for ``spender`` in the current slot; forget slots long past."""
    await session.execute(
        text(
            "INSERT INTO token_budget_windows (provider, spender, window_start, used) "
            "VALUES (:p, :s, :slot, :units) ON CONFLICT (provider, spender, window_start) "
            "DO UPDATE SET used = token_budget_windows.used + :units"
        ),
        {"p": provider, "s": spender.key, "slot": window.slot, "units": units},
    )
    await session.execute(
        text("DELETE FROM token_budget_windows WHERE provider = :p AND window_start < :old"),
        {"p": provider, "old": window.slot - timedelta(seconds=2 * rate.seconds)},
    )


async def _count(session: AsyncSession, provider: str, rate: Rate) -> Window:
    now: datetime = await session.scalar(text("SELECT clock_timestamp()"))
    slot = _slot_start(now, rate)
    rows = await session.execute(
        text(
            "SELECT spender, sum(used), min(window_start) FROM token_budget_windows "
            "WHERE provider = :p AND window_start >= :since GROUP BY spender"
        ),
        {"p": provider, "since": slot - timedelta(seconds=rate.seconds)},
    )
    used: dict[str, int] = {}
    oldest: dict[str, datetime] = {}
    for key, spent, first in rows:
        used[key], oldest[key] = int(spent), first
    return Window(now, slot, used, oldest)


def _slot_start(now: datetime, rate: Rate) -> datetime:
    width = rate.slot_seconds
    epoch = now.timestamp()
    return datetime.fromtimestamp(epoch - epoch % width, tz=now.tzinfo)
