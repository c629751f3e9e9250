from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin


class IdempotencyKey(IdMixin, Base):
    """One service client's ``Idempotency-Key`` for one operation, and the answer it got.

    While ``lease_expires_at`` is set the first request is still in flight; once answered, the
    status and body are kept (the body sealed: it may carry a capability URL) until ``expires_at``.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("service_client_id", "operation", "key"),)

    service_client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("service_clients.id", ondelete="CASCADE")
    )
    operation: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(index=True)
    lease_expires_at: Mapped[datetime | None]
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text, info={"sealed": True})

    def __repr__(self) -> str:
        return f"IdempotencyKey(id={self.id}, operation={self.operation!r}, response_body=***)"
