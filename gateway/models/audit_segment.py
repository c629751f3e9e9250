from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base


class AuditSegment(Base):
    """One sealed interval of the audit trail: its entries hashed in order, chained to the segment
    before it by ``previous``; ``anchor`` is what the stream publishes and verification checks."""

    __tablename__ = "audit_segments"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    sealed_at: Mapped[datetime] = mapped_column(server_default=func.now())
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    entries: Mapped[int] = mapped_column(Integer)
    previous: Mapped[str] = mapped_column(String(64))
    anchor: Mapped[str] = mapped_column(String(64))
    streamed_at: Mapped[datetime | None]
