from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Integer, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin, TimestampMixin


class ServiceClient(IdMixin, TimestampMixin, Base):
    """An internal service allowed to call the gateway; its key is stored only as a hash.

    Besides its scopes and proxy allow rules, a client may be confined to a namespace of users (the
    ones it connected, or user ids matching ``user_pattern``) and rate-limited per replica.
    """

    __tablename__ = "service_clients"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    allow_rules: Mapped[list[str]] = mapped_column(ARRAY(Text))
    revoked_at: Mapped[datetime | None]
    own_users_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # A regular expression the whole user id must match; NULL: any user id.
    user_pattern: Mapped[str | None] = mapped_column(String(200))
    # Token bucket per replica: refilled at this rate, holding at most ``rate_limit_burst``.
    rate_limit_per_second: Mapped[float | None] = mapped_column(Float)
    rate_limit_burst: Mapped[int | None] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"ServiceClient(name={self.name!r}, key_prefix={self.key_prefix!r}, key_hash=***)"
