from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base


class ConnectionExternalId(Base):
    """One of a connection's external ids: its owner's own reference for it.

    Unique per owner and provider; ``owner_client_id`` and ``provider`` are copies of the
    connection's, kept equal by whoever changes those (a transfer moves them too).
    """

    __tablename__ = "connection_external_ids"
    __table_args__ = (
        Index(
            "uq_connection_external_ids_owner",
            "owner_client_id",
            "provider",
            "external_id",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )

    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    external_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    # NULL: owned by ``operator``.
    owner_client_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("service_clients.id"))
    provider: Mapped[str] = mapped_column(String(64))
