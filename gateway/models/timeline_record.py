from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin


class RecordKind(enum.StrEnum):
    """What a timeline record says happened; each is also the timeline entry's ``kind``."""

    REFRESHED = "refreshed"
    REFRESH_FAILED = "refresh_failed"  # a transient failure, retried later
    WEBHOOK_RECEIVED = "webhook_received"


class TimelineRecord(IdMixin, Base):
    """A fact about a connection that no other table keeps, written for its timeline: one refresh
    and its outcome, or one provider webhook received for it. Never holds a token, nor a webhook's
    payload. Pruned after ``timeline_retention_days``.
    """

    __tablename__ = "timeline_records"
    __table_args__ = (
        Index(
            "ix_timeline_records_connection_id_occurred_at", "connection_id", "occurred_at", "id"
        ),
    )

    connection_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
