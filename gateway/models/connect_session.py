from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin, TimestampMixin


class ConnectSession(IdMixin, TimestampMixin, Base):
    """One user's pending authorization: opened by a service, finished by the provider's callback.

    The connect token, state and browser cookie are kept only as hashes; the PKCE verifier is sealed.
    ``claimed_at`` is set by the one callback that may exchange the current attempt's code (each
    attempt clears it); ``consumed_at`` once a callback stored the connection, for good.
    """

    __tablename__ = "connect_sessions"

    service_client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("service_clients.id"))
    user_id: Mapped[str] = mapped_column(String(255))
    provider: Mapped[str] = mapped_column(String(64))
    return_url: Mapped[str | None] = mapped_column(Text)
    login_hint: Mapped[str | None] = mapped_column(String(320))
    scopes: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    # Re-auth may bind a different provider account only when the service asked for it.
    replace_identity: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # A new connection beside the user's default one, rather than a re-connect of the default.
    additional: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # The provider account may already be connected for this user in this space.
    allow_duplicate_account: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default="false"
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    state_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    browser_hash: Mapped[str | None] = mapped_column(String(64))
    code_verifier: Mapped[str | None] = mapped_column(Text, info={"sealed": True})
    nonce: Mapped[str | None] = mapped_column(String(128))
    expires_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    consumed_at: Mapped[datetime | None]
    connection_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("connections.id"))

    def __repr__(self) -> str:
        return f"ConnectSession(id={self.id}, user_id={self.user_id!r}, provider={self.provider!r})"
