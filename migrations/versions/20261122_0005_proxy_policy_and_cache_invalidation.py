"""proxy policy (user namespaces, rate limits) and cache invalidation by NOTIFY

The proxy keeps service-key authentications and decrypted tokens in a short-lived in-process cache.
These triggers tell every replica, on commit, to drop what changed: whoever the writer is (refresh,
re-connect, import, revocation, a provider webhook, an operator's UPDATE), nothing else has to
remember to invalidate. The channel names and payloads are read by ``gateway.proxy.cache``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONNECTION_FUNCTION = """
CREATE FUNCTION gateway_notify_connection_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'gateway_connection_changed',
        json_build_object('user_id', OLD.user_id, 'provider', OLD.provider)::text
    );
    RETURN NULL;
END
$$
"""

CLIENT_FUNCTION = """
CREATE FUNCTION gateway_notify_service_client_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gateway_service_client_changed', OLD.id::text);
    RETURN NULL;
END
$$
"""

# Lease and bookkeeping updates (every refresh cycle) change none of these and stay silent.
CONNECTION_UPDATE_TRIGGER = """
CREATE TRIGGER connections_notify_update AFTER UPDATE ON connections FOR EACH ROW
WHEN (
    (OLD.token_version, OLD.status, OLD.expires_at, OLD.created_by_client_id, OLD.user_id)
    IS DISTINCT FROM
    (NEW.token_version, NEW.status, NEW.expires_at, NEW.created_by_client_id, NEW.user_id)
)
EXECUTE FUNCTION gateway_notify_connection_changed()
"""

CONNECTION_DELETE_TRIGGER = """
CREATE TRIGGER connections_notify_delete AFTER DELETE ON connections FOR EACH ROW
EXECUTE FUNCTION gateway_notify_connection_changed()
"""

CLIENT_TRIGGER = """
CREATE TRIGGER service_clients_notify AFTER UPDATE OR DELETE ON service_clients FOR EACH ROW
EXECUTE FUNCTION gateway_notify_service_client_changed()
"""


def upgrade() -> None:
    op.add_column(
        "service_clients",
        sa.Column("own_users_only", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column("service_clients", sa.Column("user_pattern", sa.String(length=200)))
    op.add_column("service_clients", sa.Column("rate_limit_per_second", sa.Float()))
    op.add_column("service_clients", sa.Column("rate_limit_burst", sa.Integer()))
    for statement in (
        CONNECTION_FUNCTION,
        CLIENT_FUNCTION,
        CONNECTION_UPDATE_TRIGGER,
        CONNECTION_DELETE_TRIGGER,
        CLIENT_TRIGGER,
    ):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER service_clients_notify ON service_clients")
    op.execute("DROP TRIGGER connections_notify_delete ON connections")
    op.execute("DROP TRIGGER connections_notify_update ON connections")
    op.execute("DROP FUNCTION gateway_notify_service_client_changed()")
    op.execute("DROP FUNCTION gateway_notify_connection_changed()")
    op.drop_column("service_clients", "rate_limit_burst")
    op.drop_column("service_clients", "rate_limit_per_second")
    op.drop_column("service_clients", "user_pattern")
    op.drop_column("service_clients", "own_users_only")
