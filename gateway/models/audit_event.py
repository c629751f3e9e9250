from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, Uuid, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin

# The writing transaction's id (64 bits, never wraps): the stream and the sealer take only entries
# of transactions older than every one still running, so a late commit is never skipped.
CURRENT_TRANSACTION = text("(pg_current_xact_id()::text)::bigint")


class AuditEvent(IdMixin, Base):
    """Who did what to which connection or client, from where, and when. Never holds a token.

    ``segment`` and ``chain_hash`` are set once, by the sealer (``gateway.audit.chain``), never by
    the writer: writing an entry takes no lock beyond its own row."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_occurred_at_id", "occurred_at", "id"),
        # A connection's entries, newest first (its timeline, ``connections show``).
        Index("ix_audit_events_connection_id_occurred_at", "connection_id", "occurred_at", "id"),
        Index("ix_audit_events_txid_id", "txid", "id"),
        Index("ix_audit_events_segment", "segment"),
    )

    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    connection_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    source_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(256))
    txid: Mapped[int] = mapped_column(BigInteger, server_default=CURRENT_TRANSACTION)
    segment: Mapped[int | None] = mapped_column(BigInteger)
    chain_hash: Mapped[str | None] = mapped_column(String(64))
