from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin, TimestampMixin


class ProvisioningStatus(enum.StrEnum):
    CODE_SENT = "code_sent"  # the provider mailed the user a one-time code
    VERIFIED = "verified"  # the provider accepted the code; consent and code exchange remain
    CONNECTED = "connected"
    FAILED = "failed"  # closed for good; ``failure_code`` says why


class Provisioning(IdMixin, TimestampMixin, Base):
    """A service's request to sign a user up at the provider by partner-auth.

    The verify-page token is kept only as a hash; the provider's challenge session is sealed to this
    row and erased once the code is answered. ``lease_expires_at`` marks a verify in progress, so
    that two verifies of one provisioning never call the provider at the same time.
    """

    __tablename__ = "provisionings"

    service_client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("service_clients.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(String(255))
    provider: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(320))
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    user_provisioned: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Re-auth may bind a different provider account only when the service asked for it.
    replace_identity: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # A new connection beside the user's default one, rather than a re-connect of the default.
    additional: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # The provider account may already be connected for this user in this space.
    allow_duplicate_account: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default="false"
    )
    status: Mapped[ProvisioningStatus] = mapped_column(
        Enum(
            ProvisioningStatus,
            name="provisioning_status",
            values_callable=lambda e: [m.value for m in e],
        ),
        default=ProvisioningStatus.CODE_SENT,
        server_default=ProvisioningStatus.CODE_SENT.value,
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    provider_session: Mapped[str | None] = mapped_column(Text, info={"sealed": True})
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    code_expires_at: Mapped[datetime]
    session_expires_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    connection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("connections.id", ondelete="SET NULL")
    )
    failure_code: Mapped[str | None] = mapped_column(String(64))

    def __repr__(self) -> str:
        return (
            f"Provisioning(id={self.id}, user_id={self.user_id!r}, status={self.status.value!r}, "
            "provider_session=***)"
        )
