from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin


class AuditEvent(IdMixin, Base):
    """Who did what to which connection or client, and when. Never holds a token."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_occurred_at_id", "occurred_at", "id"),
        # A connection's entries, newest first (its timeline, ``connections show``).
        Index("ix_audit_events_connection_id_occurred_at", "connection_id", "occurred_at", "id"),
    )

    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    connection_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
