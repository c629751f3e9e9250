"""The provider's rate limit on its OAuth endpoints, spent as one budget by every replica.

Contio allows about 100 OAuth requests per 5 minutes per egress IP. Every request the gateway makes to
a provider's token, revocation or introspection endpoint spends one unit of that provider's budget,
counted in PostgreSQL so all replicas share it. The window slides: it is kept in slots a tenth of a
window wide, and a request is admitted while the slots that overlap the last window (the current one
and the ten before it) hold fewer than the limit. That errs on the safe side: a request leaves the
count no sooner than a full window after it was made, and no burst at a boundary can double the rate.

Background refreshes may spend only up to ``1 - reserve`` of the budget; the rest is kept for what a
person or a service is waiting on (connects, on-demand refreshes, revocation, import).
"""

from __future__ import annotations

import contextvars
import enum
import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text

from gateway.kit.db import Database
from gateway.metrics import Metrics
from gateway.providers.errors import ProviderUnavailable
from gateway.settings import ENV_PREFIX, Settings, SettingsError

SLOTS_PER_WINDOW = 10
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*([smh]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}


class Priority(enum.Enum):
    INTERACTIVE = "interactive"
    BACKGROUND = "background"


_priority: contextvars.ContextVar[Priority] = contextvars.ContextVar(
    "token_request_priority", default=Priority.INTERACTIVE
)


@contextmanager
def background() -> Iterator[None]:
    """Token requests made inside this block spend the background share of the budget."""
    reset = _priority.set(Priority.BACKGROUND)
    try:
        yield
    finally:
        _priority.reset(reset)


def current_priority() -> Priority:
    return _priority.get()


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
    """Raised instead of calling the provider when its token-endpoint budget is spent."""

    code = "token_budget_exhausted"


@dataclass(frozen=True)
class Usage:
    provider: str
    rate: Rate
    used: int

    @property
    def fraction(self) -> float:
        return self.used / self.rate.requests


class TokenBudget:
    """Admits token-endpoint requests per provider within its rate, across every replica."""

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

    def rate(self, provider: str) -> Rate | None:
        """The provider's configured rate (read once); SettingsError when it is malformed."""
        if provider not in self._rates:
            self._rates[provider] = configured_rate(self._settings, provider, self._environ)
        return self._rates[provider]

    def limit(self, provider: str, priority: Priority) -> int | None:
        rate = self.rate(provider)
        if rate is None:
            return None
        if priority is Priority.INTERACTIVE:
            return rate.requests
        return max(1, math.floor(rate.requests * (1 - self._settings.token_rate_reserve)))

    async def spend(self, provider: str) -> None:
        """Take one unit for a request about to be sent, or raise BudgetExhausted."""
        rate = self.rate(provider)
        if rate is None:
            return
        priority = current_priority()
        limit = self.limit(provider, priority)
        assert limit is not None
        async with self._db.transaction() as session:
            # One short critical section per provider: count the window, then take a unit.
            await session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"token_budget:{provider}"},
            )
            now: datetime = await session.scalar(text("SELECT clock_timestamp()"))
            slot = _slot_start(now, rate)
            since = slot - timedelta(seconds=rate.seconds)
            used, oldest = (
                await session.execute(
                    text(
                        "SELECT coalesce(sum(used), 0), min(window_start) "
                        "FROM token_budget_windows WHERE provider = :p AND window_start >= :since"
                    ),
                    {"p": provider, "since": since},
                )
            ).one()
            if used >= limit:
                if self._metrics is not None:
                    self._metrics.budget_refusals.labels(provider, priority.value).inc()
                frees_at = (oldest or slot) + timedelta(seconds=rate.seconds + rate.slot_seconds)
                raise BudgetExhausted(
                    f"{provider}'s token-endpoint budget ({rate}) is spent; try again shortly",
                    provider=provider,
                    retry_after=max(1.0, (frees_at - now).total_seconds()),
                )
            await session.execute(
                text(
                    "INSERT INTO token_budget_windows (provider, window_start, used) "
                    "VALUES (:p, :slot, 1) ON CONFLICT (provider, window_start) "
                    "DO UPDATE SET used = token_budget_windows.used + 1"
                ),
                {"p": provider, "slot": slot},
            )
            await session.execute(
                text(
                    "DELETE FROM token_budget_windows WHERE provider = :p AND window_start < :old"
                ),
                {"p": provider, "old": since - timedelta(seconds=rate.seconds)},
            )

    async def available(self, provider: str, priority: Priority) -> int | None:
        """Units that could be spent now at this priority; None when the provider is unlimited."""
        limit = self.limit(provider, priority)
        if limit is None:
            return None
        usage = await self.usage(provider)
        assert usage is not None
        return max(0, limit - usage.used)

    async def usage(self, provider: str) -> Usage | None:
        rate = self.rate(provider)
        if rate is None:
            return None
        async with self._db.transaction() as session:
            now: datetime = await session.scalar(text("SELECT clock_timestamp()"))
            since = _slot_start(now, rate) - timedelta(seconds=rate.seconds)
            used = await session.scalar(
                text(
                    "SELECT coalesce(sum(used), 0) FROM token_budget_windows "
                    "WHERE provider = :p AND window_start >= :since"
                ),
                {"p": provider, "since": since},
            )
        return Usage(provider, rate, int(used or 0))


def _slot_start(now: datetime, rate: Rate) -> datetime:
    width = rate.slot_seconds
    epoch = now.timestamp()
    return datetime.fromtimestamp(epoch - epoch % width, tz=now.tzinfo)
