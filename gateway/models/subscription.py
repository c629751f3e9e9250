from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin, TimestampMixin


class Subscription(IdMixin, TimestampMixin, Base):
    """A service client's endpoint for outbound events: the types it wants (exact names and
    ``prefix.*``) about the connections it may use whose labels match ``label_selector``."""

    __tablename__ = "subscriptions"
    # Routing asks which enabled subscriptions name any of the patterns admitting an event's type.
    __table_args__ = (Index("ix_subscriptions_event_types", "event_types", postgresql_using="gin"),)

    client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("service_clients.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # The label selector (``key=value`` and ``key`` terms, all of which must hold) as PostgreSQL
    # tests it: labels the connection's must contain, and keys they must have whatever the value.
    label_values: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default="{}")
    label_keys: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")

    def __repr__(self) -> str:
        return f"Subscription(id={self.id}, client_id={self.client_id}, url=***)"


class SubscriptionSecret(IdMixin, Base):
    """One signing secret of a subscription, sealed and bound to this row. A delivery is signed by
    every secret of its subscription that has not expired (``expires_at`` NULL: until rotated)."""

    __tablename__ = "subscription_secrets"

    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    secret: Mapped[str] = mapped_column(Text, info={"sealed": True})
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"SubscriptionSecret(id={self.id}, secret=***)"
