"""The gateway-wide circuit breaker per provider, held in PostgreSQL so every replica sees it.

It opens when the provider refuses the gateway's own client (``invalid_client`` and the like): such an
error says nothing about any user's grant, so no connection is touched while it is open.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import ProviderBreaker

MAX_OPEN_SECONDS = 900.0


async def open_until(session: AsyncSession, provider: str, now: datetime) -> datetime | None:
    """When the breaker closes again, or None when it is closed."""
    until = await session.scalar(
        select(ProviderBreaker.open_until).where(ProviderBreaker.provider == provider)
    )
    return until if until is not None and until > now else None


async def trip(
    session: AsyncSession, provider: str, error: str, now: datetime, base_seconds: float
) -> tuple[datetime, bool]:
    """Open (or keep open, for longer) the breaker; returns when it closes and whether it just opened."""
    row = await session.scalar(
        select(ProviderBreaker).where(ProviderBreaker.provider == provider).with_for_update()
    )
    failures = 1 if row is None else row.consecutive_failures + 1
    was_open = row is not None and row.open_until is not None and row.open_until > now
    seconds = min(MAX_OPEN_SECONDS, base_seconds * 2 ** (failures - 1))
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
    return until, not was_open


async def reset(session: AsyncSession, provider: str) -> None:
    row = await session.get(ProviderBreaker, provider)
    if row is not None and (row.consecutive_failures or row.open_until is not None):
        row.consecutive_failures = 0
        row.open_until = None
