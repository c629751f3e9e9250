from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin


class PendingRevocation(IdMixin, Base):
    """Tokens of a revoked connection that the provider has not yet confirmed revoking.

    The connection's own ciphertexts are erased at once; these copies (sealed, bound to this row)
    exist only until upstream revocation succeeds or is given up, and the row is then deleted.
    ``next_attempt_at`` doubles as the claim: whoever sets it into the future owns the attempt.
    """

    __tablename__ = "pending_revocations"

    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(64))
    access_token: Mapped[str | None] = mapped_column(Text, info={"sealed": True})
    refresh_token: Mapped[str | None] = mapped_column(Text, info={"sealed": True})
    provider_connection_id: Mapped[str | None] = mapped_column(String(128))
    # The connection's token_version right after the revocation: if it moved, the user connected
    # again and only these old tokens may be revoked, never the provider's whole connection.
    revoked_version: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    def __repr__(self) -> str:
        return (
            f"PendingRevocation(id={self.id}, connection_id={self.connection_id}, "
            f"attempts={self.attempts}, tokens=***)"
        )
