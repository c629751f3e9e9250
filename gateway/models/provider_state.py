from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, PrimaryKeyConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base


class ProviderBreaker(Base):
    """Gateway-wide circuit breaker per provider, opened when the provider refuses our own client."""

    __tablename__ = "provider_breakers"

    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    open_until: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class TokenBudgetWindow(Base):
    """Token-endpoint requests spent per provider, spender and slot, shared by every replica."""

    __tablename__ = "token_budget_windows"
    __table_args__ = (PrimaryKeyConstraint("provider", "spender", "window_start"),)

    provider: Mapped[str] = mapped_column(String(64))
    spender: Mapped[str] = mapped_column(String(64))  # refresher, operator or client:<id>
    window_start: Mapped[datetime]
    used: Mapped[int] = mapped_column(Integer, default=0)


class SeenWebhook(Base):
    """Provider webhook event ids already processed (replays within the window are ignored)."""

    __tablename__ = "seen_webhooks"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime]
