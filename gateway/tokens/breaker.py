"""The gateway-wide circuit breaker per provider, held in PostgreSQL so every replica sees it.

It opens when the provider refuses the gateway's own client (``invalid_client`` and the like): such an
error says nothing about any user's grant, so no connection is touched while it is open. While open,
no refresh calls the provider. When the open period ends, one caller in the whole cluster is let
through as a probe (a conditional update decides who); the others keep waiting for the probe window.
A probe that succeeds closes the breaker; one that is refused again opens it for twice as long (up to
``MAX_OPEN_SECONDS``). Refusals of calls that were already in flight when it opened change nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kit.backoff import backoff_seconds
from gateway.models import ProviderBreaker

MAX_OPEN_SECONDS = 900.0


@dataclass(frozen=True)
class BreakerVerdict:
    """Whether a call may go to the provider; ``probe`` when it is the one testing a tripped breaker."""

    allowed: bool
    probe: bool = False
    closed_until: datetime | None = None


async def admit(
    session: AsyncSession, provider: str, now: datetime, probe_seconds: float
) -> BreakerVerdict:
    return (await admit_many(session, [provider], now, probe_seconds))[provider]


async def admit_many(
    session: AsyncSession, providers: Collection[str], now: datetime, probe_seconds: float
) -> dict[str, BreakerVerdict]:
    """Each provider's verdict, read in one statement while every breaker is closed. A half-open
    provider's verdict admits one call, the probe."""
    rows = {
        row.provider: row
        for row in await session.execute(
            select(
                ProviderBreaker.provider,
                ProviderBreaker.open_until,
                ProviderBreaker.consecutive_failures,
            ).where(ProviderBreaker.provider.in_(providers))
        )
    }
    verdicts: dict[str, BreakerVerdict] = {}
    for provider in providers:
        row = rows.get(provider)
        if row is None or (row.open_until is None and not row.consecutive_failures):
            verdicts[provider] = BreakerVerdict(allowed=True)
        elif row.open_until is not None and row.open_until > now:
            verdicts[provider] = BreakerVerdict(allowed=False, closed_until=row.open_until)
        else:
            verdicts[provider] = await _probe(session, provider, now, probe_seconds)
    return verdicts


async def _probe(
    session: AsyncSession, provider: str, now: datetime, probe_seconds: float
) -> BreakerVerdict:
    """Half open: the first caller to move the window forward is the probe."""
    won = await session.scalar(
        update(ProviderBreaker)
        .where(
            ProviderBreaker.provider == provider,
            (ProviderBreaker.open_until.is_(None)) | (ProviderBreaker.open_until <= now),
        )
        .values(open_until=now + timedelta(seconds=probe_seconds))
        .returning(ProviderBreaker.provider)
    )
    if won is None:
        return BreakerVerdict(allowed=False, closed_until=now + timedelta(seconds=probe_seconds))
    return BreakerVerdict(allowed=True, probe=True)


async def trip(
    session: AsyncSession,
    provider: str,
    error: str,
    now: datetime,
    base_seconds: float,
    *,
    probe: bool = False,
) -> tuple[datetime, bool]:
    """Open the breaker, or after a failed probe keep it open for longer.

    Returns when it closes and whether this refusal opened it (the alert is raised once). A refusal
    of a call that was not the probe, while the breaker is already tripped, changes nothing.
    """
    row = await session.scalar(
        select(ProviderBreaker).where(ProviderBreaker.provider == provider).with_for_update()
    )
    tripped = row is not None and row.consecutive_failures > 0
    if tripped and not probe:
        assert row is not None
        return (row.open_until or now), False
    failures = 1 if row is None else row.consecutive_failures + 1
    seconds = backoff_seconds(failures, base=base_seconds, cap=MAX_OPEN_SECONDS)
    until = now + timedelta(seconds=seconds)
    await session.execute(
        insert(ProviderBreaker)
        .values(
            provider=provider,
            open_until=until,
            consecutive_failures=failures,
            last_error=error,
            updated_at=now,
        )
        .on_conflict_do_update(
            index_elements=[ProviderBreaker.provider],
            set_={
                "open_until": until,
                "consecutive_failures": failures,
                "last_error": error,
                "updated_at": now,
            },
        )
    )
    return until, not tripped


async def reset(session: AsyncSession, provider: str) -> None:
    row = await session.get(ProviderBreaker, provider)
    if row is not None and (row.consecutive_failures or row.open_until is not None):
        row.consecutive_failures = 0
        row.open_until = None
