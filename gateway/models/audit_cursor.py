from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, String, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base


class AuditCursor(Base):
    """A named position in the audit trail. ``stream``: every entry of a transaction older than
    ``position`` was written to the sink, and of ``position`` itself those up to ``last_id``.
    ``pruned``: segments up to ``position`` were deleted by retention, the last one's anchor kept
    so verification can start after it."""

    __tablename__ = "audit_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    last_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    anchor: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
