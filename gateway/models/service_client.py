from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin, TimestampMixin


class ServiceClient(IdMixin, TimestampMixin, Base):
    """An internal service allowed to call the gateway; its key is stored only as a hash."""

    __tablename__ = "service_clients"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    allow_rules: Mapped[list[str]] = mapped_column(ARRAY(Text))
    revoked_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"ServiceClient(name={self.name!r}, key_prefix={self.key_prefix!r}, key_hash=***)"
