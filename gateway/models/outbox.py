from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Computed, ForeignKey, Index, Integer, String, Text, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin


class OutboxEvent(IdMixin, Base):
    """An event for internal services, written in the same transaction as the change it reports.

    Its id is the Standard Webhooks ``webhook-id``: stable across every retry to every endpoint.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_connection_id_occurred_at", "connection_id", "occurred_at", "id"),
    )

    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The connection the event is about, computed by PostgreSQL from ``data`` (so rows written by
    # any version carry it): a connection's events are found by index.
    connection_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, Computed("(data ->> 'connection_id')::uuid", persisted=True)
    )


class EventDelivery(IdMixin, Base):
    """One event on its way to one endpoint (an operator-wide one or a subscription's)."""

    __tablename__ = "event_deliveries"
    __table_args__ = (
        Index(
            "ix_event_deliveries_due", "next_attempt_at", postgresql_where="delivered_at IS NULL"
        ),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("outbox_events.id", ondelete="CASCADE"), index=True
    )
    endpoint: Mapped[str] = mapped_column(Text)
    # The subscription it is for, whose secrets sign it; NULL: an operator-wide endpoint
    # (``GATEWAY_EVENT_ENDPOINTS``), signed with ``GATEWAY_EVENT_SIGNING_SECRETS``.
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    delivered_at: Mapped[datetime | None]
    abandoned_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
