from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin


class DelegatedKey(IdMixin, Base):
    """A short-lived gateway key that may only proxy for one connection; stored as a hash.

    Issued by the connection's owner or an operator, with allow rules that are a subset of the
    issuer's own (by default the issuer's rules as they were at issue).
    """

    __tablename__ = "delegated_keys"

    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), index=True
    )
    key_prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    allow_rules: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # The client whose proxy power the key carries (the issuing client, or the one an operator at
    # the CLI issued it for; a key without one is never accepted), and who issued it, as the audit
    # trail names them (``client:<name>``, ``cli:<login>``).
    issued_by_client_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("service_clients.id"))
    issued_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"DelegatedKey(id={self.id}, key_prefix={self.key_prefix!r}, key_hash=***)"
