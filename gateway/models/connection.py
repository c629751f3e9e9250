from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, Text, text, true
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin, TimestampMixin


class ConnectionStatus(enum.StrEnum):
    ACTIVE = "active"
    NEEDS_REAUTH = "needs_reauth"
    REVOKED = "revoked"
    # Its sealed tokens do not open with the key ring (a key removed too early, or a ciphertext
    # copied from another row): never refreshed or proxied until a re-connect, an import or the key.
    CREDENTIALS_UNREADABLE = "credentials_unreadable"


class AuthMode(enum.StrEnum):
    """How a connection holds or obtains its credential: a user's OAuth grant, a credential stored
    as given (``gateway.connections.credentials``), or the gateway's own client at the provider."""

    OAUTH_USER = "oauth_user"
    API_KEY = "api_key"
    BASIC = "basic"
    HEADER = "header"
    # The gateway's own client at the provider (RFC 6749 §4.4): app-level, no user, no refresh
    # token; a new exchange stands in for each refresh. Never a user's default connection.
    CLIENT_CREDENTIALS = "client_credentials"


STORED_CREDENTIAL_MODES = frozenset({AuthMode.API_KEY, AuthMode.BASIC, AuthMode.HEADER})


class Connection(IdMixin, TimestampMixin, Base):
    """A user's grant at one provider. Token columns hold sealed envelopes bound to this row.

    Ownership and spaces are drawn in ``gateway.connections.ownership``.

    ``token_version`` grows with every write of the token columns; writers compare and swap on it.
    """

    __tablename__ = "connections"
    __table_args__ = (
        # At most one default connection per (user, provider) in each space; the shared space is
        # NULL, and NULLs are not distinct, so it holds one too. Additional connections are not
        # the default.
        Index(
            "uq_connections_default",
            "user_id",
            "provider",
            "confined_to_client_id",
            unique=True,
            postgresql_nulls_not_distinct=True,
            postgresql_where="is_default",
        ),
        Index("ix_connections_due", "next_refresh_at", postgresql_where="status = 'active'"),
        # Not read by the refresher's claim, which sorts the due set itself (``tokens.lease``):
        # a walk in expiry order reads every connection expiring before the due ones. Kept until
        # a contract migration drops it, since replicas of the previous version walk it.
        Index(
            "ix_connections_expiry",
            text("expires_at NULLS FIRST"),
            postgresql_where="status = 'active'",
        ),
        # Connections whose tokens did not open, looked for whenever a process starts.
        Index(
            "ix_connections_unreadable", "id", postgresql_where="status = 'credentials_unreadable'"
        ),
        Index("ix_connections_created_at_id", "created_at", "id"),
        Index("ix_connections_labels", "labels", postgresql_using="gin"),
        # A provider account's connections (a provider webhook names its user by subject).
        Index("ix_connections_provider_subject", "provider", "subject"),
    )

    user_id: Mapped[str] = mapped_column(String(255))
    provider: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255))
    status: Mapped[ConnectionStatus] = mapped_column(
        Enum(
            ConnectionStatus,
            name="connection_status",
            values_callable=lambda e: [m.value for m in e],
        ),
        default=ConnectionStatus.ACTIVE,
    )
    # NULL once the connection is revoked: its ciphertexts are erased.
    access_token: Mapped[str | None] = mapped_column(Text, info={"sealed": True})
    refresh_token: Mapped[str | None] = mapped_column(Text, info={"sealed": True})
    token_version: Mapped[int] = mapped_column(Integer, default=1)
    expires_at: Mapped[datetime | None]
    scopes: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    # The provider's own id for this grant (Contio: introspection's ``ext.connection_id``), when known.
    provider_connection_id: Mapped[str | None] = mapped_column(String(128))
    # History: the client whose flow created the row (NULL: an operator or the CLI).
    created_by_client_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("service_clients.id"))
    # The one client that may change the connection besides operators; NULL: owned by ``operator``.
    owner_client_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("service_clients.id"))
    # The space the connection lives in: a confined client's own (its id), or the shared one (NULL).
    confined_to_client_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("service_clients.id")
    )
    connected_at: Mapped[datetime]
    # Refresh bookkeeping: when the refresher should next act, and how the last attempt went.
    token_lifetime_seconds: Mapped[int | None] = mapped_column(Integer)
    refresh_token_expires_at: Mapped[datetime | None]
    next_refresh_at: Mapped[datetime | None]
    last_refreshed_at: Mapped[datetime | None]
    # When an upstream 401 on the proxy last made the gateway refresh (the 401 cool-down's start).
    unauthorized_refresh_at: Mapped[datetime | None]
    last_refresh_error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The cross-process refresh lease: whoever holds it (until it expires) may call the provider.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    # The connection ``/proxy/users/{user_id}/...`` uses for its user, provider and space.
    is_default: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # False: paused. The proxy refuses it (409 ``connection_disabled``); it is still refreshed.
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The owner's own JSON object, kept and returned as given (``metadata`` is taken by the ORM).
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, default=dict, server_default="{}"
    )
    # ``key=value`` pairs for selecting connections; a JSON object of strings.
    labels: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default="{}")
    # What the provider's token response said about the connection (``instance_url``), or an
    # operator set: the values ``api_base_url`` templates name (``gateway.providers.profile``).
    provider_settings: Mapped[dict[str, str]] = mapped_column(
        "settings", JSONB, default=dict, server_default="{}"
    )
    # Grows with every change of the settable fields; the ETag is made from it.
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # An ``AuthMode`` value: a stored-credential connection has ``credential`` and no tokens.
    auth_mode: Mapped[str] = mapped_column(
        String(32), default=AuthMode.OAUTH_USER.value, server_default=AuthMode.OAUTH_USER.value
    )
    # A stored credential (an API key, a user and password, a header's value) as its provider
    # takes it, sealed like the tokens; NULL for OAuth connections and once revoked.
    credential: Mapped[str | None] = mapped_column(Text, info={"sealed": True})
    # What a client-credentials exchange asks for (``providers.client_credentials``); NULL for
    # the other modes.
    token_request: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    @property
    def may_be_default(self) -> bool:
        """App-level connections (client credentials) are never a user's default."""
        return self.auth_mode != AuthMode.CLIENT_CREDENTIALS

    def __repr__(self) -> str:
        return (
            f"Connection(id={self.id}, user_id={self.user_id!r}, provider={self.provider!r}, "
            f"status={self.status.value!r}, tokens=***)"
        )
