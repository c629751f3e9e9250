"""managed connections, expand step: default and additional connections, pause, metadata, labels,
external ids, delegated keys

Every existing connection becomes its user's default (``is_default``), enabled, with empty
metadata and labels. The one-connection-per-(user, provider, space) constraint stays until the
contract step (``20261207_contract``), so replicas of the previous version, which look a user's
connection up by that key, never meet a second one while they still run.

A connection's timeline gets a table of its own records (refreshes and provider webhooks, which
nothing else keeps) and an index on each table it reads.

The NOTIFY payload names the connection too (the proxy caches connections addressed by id), and a
change of ``is_default`` or ``enabled`` is announced like a change of the token. A delegated key
revoked (or deleted with its connection) is announced by its id, so every replica drops it from
its cache of keys.

Revision ID: 20261207_managed
Revises: 20261206_budget
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261207_managed"
down_revision: str | None = "20261206_budget"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONNECTION_FUNCTION = """
CREATE OR REPLACE FUNCTION gateway_notify_connection_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'gateway_connection_changed',
        json_build_object(
            'user_id', OLD.user_id, 'provider', OLD.provider, 'space', OLD.confined_to_client_id,
            'connection_id', OLD.id
        )::text
    );
    IF TG_OP = 'UPDATE' AND (OLD.user_id, OLD.provider, OLD.confined_to_client_id)
        IS DISTINCT FROM (NEW.user_id, NEW.provider, NEW.confined_to_client_id) THEN
        PERFORM pg_notify(
            'gateway_connection_changed',
            json_build_object(
                'user_id', NEW.user_id, 'provider', NEW.provider,
                'space', NEW.confined_to_client_id, 'connection_id', NEW.id
            )::text
        );
    END IF;
    RETURN NULL;
END
$$
"""

PREVIOUS_CONNECTION_FUNCTION = """
CREATE OR REPLACE FUNCTION gateway_notify_connection_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'gateway_connection_changed',
        json_build_object(
            'user_id', OLD.user_id, 'provider', OLD.provider, 'space', OLD.confined_to_client_id
        )::text
    );
    IF TG_OP = 'UPDATE' AND (OLD.user_id, OLD.provider, OLD.confined_to_client_id)
        IS DISTINCT FROM (NEW.user_id, NEW.provider, NEW.confined_to_client_id) THEN
        PERFORM pg_notify(
            'gateway_connection_changed',
            json_build_object(
                'user_id', NEW.user_id, 'provider', NEW.provider,
                'space', NEW.confined_to_client_id
            )::text
        );
    END IF;
    RETURN NULL;
END
$$
"""

UPDATE_TRIGGER = """
CREATE TRIGGER connections_notify_update AFTER UPDATE ON connections FOR EACH ROW
WHEN (
    (OLD.token_version, OLD.status, OLD.expires_at, OLD.created_by_client_id, OLD.user_id,
     OLD.owner_client_id, OLD.confined_to_client_id, OLD.is_default, OLD.enabled)
    IS DISTINCT FROM
    (NEW.token_version, NEW.status, NEW.expires_at, NEW.created_by_client_id, NEW.user_id,
     NEW.owner_client_id, NEW.confined_to_client_id, NEW.is_default, NEW.enabled)
)
EXECUTE FUNCTION gateway_notify_connection_changed()
"""

PREVIOUS_UPDATE_TRIGGER = """
CREATE TRIGGER connections_notify_update AFTER UPDATE ON connections FOR EACH ROW
WHEN (
    (OLD.token_version, OLD.status, OLD.expires_at, OLD.created_by_client_id, OLD.user_id,
     OLD.owner_client_id, OLD.confined_to_client_id)
    IS DISTINCT FROM
    (NEW.token_version, NEW.status, NEW.expires_at, NEW.created_by_client_id, NEW.user_id,
     NEW.owner_client_id, NEW.confined_to_client_id)
)
EXECUTE FUNCTION gateway_notify_connection_changed()
"""

FLOW_TABLES = ("connect_sessions", "provisionings")
FLOW_COLUMNS = ("additional", "allow_duplicate_account")

DELEGATED_KEY_FUNCTION = """
CREATE FUNCTION gateway_notify_delegated_key_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gateway_delegated_key_changed', OLD.id::text);
    RETURN NULL;
END
$$
"""

DELEGATED_KEY_TRIGGER = """
CREATE TRIGGER delegated_keys_notify AFTER UPDATE OR DELETE ON delegated_keys FOR EACH ROW
EXECUTE FUNCTION gateway_notify_delegated_key_changed()
"""


def upgrade() -> None:
    op.add_column(
        "connections",
        sa.Column("is_default", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.add_column(
        "connections",
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.add_column(
        "connections",
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
    )
    op.add_column(
        "connections",
        sa.Column(
            "labels", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
    )
    op.add_column(
        "connections", sa.Column("revision", sa.Integer(), server_default="1", nullable=False)
    )
    op.create_index(
        "uq_connections_default",
        "connections",
        ["user_id", "provider", "confined_to_client_id"],
        unique=True,
        postgresql_nulls_not_distinct=True,
        postgresql_where=sa.text("is_default"),
    )
    op.create_index("ix_connections_labels", "connections", ["labels"], postgresql_using="gin")
    op.create_table(
        "connection_external_ids",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("owner_client_id", sa.Uuid(), nullable=True),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_connection_external_ids_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_client_id"],
            ["service_clients.id"],
            name=op.f("fk_connection_external_ids_owner_client_id_service_clients"),
        ),
        sa.PrimaryKeyConstraint(
            "connection_id", "external_id", name=op.f("pk_connection_external_ids")
        ),
    )
    op.create_index(
        "uq_connection_external_ids_owner",
        "connection_external_ids",
        ["owner_client_id", "provider", "external_id"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "delegated_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("allow_rules", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("issued_by_client_id", sa.Uuid(), nullable=True),
        sa.Column("issued_by", sa.String(length=128), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_delegated_keys_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["issued_by_client_id"],
            ["service_clients.id"],
            name=op.f("fk_delegated_keys_issued_by_client_id_service_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegated_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_delegated_keys_key_hash")),
    )
    op.create_index(op.f("ix_delegated_keys_connection_id"), "delegated_keys", ["connection_id"])
    op.create_index(op.f("ix_delegated_keys_key_prefix"), "delegated_keys", ["key_prefix"])
    op.execute("DROP TRIGGER connections_notify_update ON connections")
    op.execute(CONNECTION_FUNCTION)
    op.execute(UPDATE_TRIGGER)
    # Additional connections: a connect session or provisioning carries what its request asked.
    for table in FLOW_TABLES:
        for column in FLOW_COLUMNS:
            op.add_column(
                table, sa.Column(column, sa.Boolean(), server_default=sa.false(), nullable=False)
            )
    op.execute(DELEGATED_KEY_FUNCTION)
    op.execute(DELEGATED_KEY_TRIGGER)
    _upgrade_timeline()
    _upgrade_settings()


# A connection's settings: what its provider's token response said about it (``instance_url``)
# or an operator set; the proxy's caches drop a connection whose settings change.
SETTINGS_UPDATE_TRIGGER = """
CREATE TRIGGER connections_notify_update AFTER UPDATE ON connections FOR EACH ROW
WHEN (
    (OLD.token_version, OLD.status, OLD.expires_at, OLD.created_by_client_id, OLD.user_id,
     OLD.owner_client_id, OLD.confined_to_client_id, OLD.is_default, OLD.enabled, OLD.settings)
    IS DISTINCT FROM
    (NEW.token_version, NEW.status, NEW.expires_at, NEW.created_by_client_id, NEW.user_id,
     NEW.owner_client_id, NEW.confined_to_client_id, NEW.is_default, NEW.enabled, NEW.settings)
)
EXECUTE FUNCTION gateway_notify_connection_changed()
"""


def _upgrade_settings() -> None:
    op.add_column(
        "connections",
        sa.Column(
            "settings",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
    )
    op.execute("DROP TRIGGER connections_notify_update ON connections")
    op.execute(SETTINGS_UPDATE_TRIGGER)


def _downgrade_settings() -> None:
    op.execute("DROP TRIGGER connections_notify_update ON connections")
    op.execute(UPDATE_TRIGGER)
    op.drop_column("connections", "settings")


def _upgrade_timeline() -> None:
    """The connection's timeline: its own records (refreshes, provider webhooks), and an index for
    each source it reads. The outbox's ``connection_id`` is computed from ``data``, so events the
    previous version writes during a rolling update carry it too."""
    op.create_table(
        "timeline_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline_records")),
    )
    op.create_index(
        "ix_timeline_records_connection_id_occurred_at",
        "timeline_records",
        ["connection_id", "occurred_at", "id"],
    )
    op.create_index(op.f("ix_timeline_records_occurred_at"), "timeline_records", ["occurred_at"])
    op.create_index(
        "ix_audit_events_connection_id_occurred_at",
        "audit_events",
        ["connection_id", "occurred_at", "id"],
    )
    op.drop_index(op.f("ix_audit_events_connection_id"), table_name="audit_events")
    op.add_column(
        "outbox_events",
        sa.Column(
            "connection_id",
            sa.Uuid(),
            sa.Computed("(data ->> 'connection_id')::uuid", persisted=True),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_outbox_events_connection_id_occurred_at",
        "outbox_events",
        ["connection_id", "occurred_at", "id"],
    )
    op.create_index(op.f("ix_event_deliveries_event_id"), "event_deliveries", ["event_id"])
    op.create_index("ix_connections_provider_subject", "connections", ["provider", "subject"])


def _downgrade_timeline() -> None:
    op.drop_index("ix_connections_provider_subject", table_name="connections")
    op.drop_index(op.f("ix_event_deliveries_event_id"), table_name="event_deliveries")
    op.drop_index("ix_outbox_events_connection_id_occurred_at", table_name="outbox_events")
    op.drop_column("outbox_events", "connection_id")
    op.create_index(op.f("ix_audit_events_connection_id"), "audit_events", ["connection_id"])
    op.drop_index("ix_audit_events_connection_id_occurred_at", table_name="audit_events")
    op.drop_index(op.f("ix_timeline_records_occurred_at"), table_name="timeline_records")
    op.drop_index("ix_timeline_records_connection_id_occurred_at", table_name="timeline_records")
    op.drop_table("timeline_records")


def downgrade() -> None:
    _downgrade_settings()
    _downgrade_timeline()
    op.execute("DROP TRIGGER delegated_keys_notify ON delegated_keys")
    op.execute("DROP FUNCTION gateway_notify_delegated_key_changed()")
    for table in FLOW_TABLES:
        for column in FLOW_COLUMNS:
            op.drop_column(table, column)
    op.execute("DROP TRIGGER connections_notify_update ON connections")
    op.execute(PREVIOUS_CONNECTION_FUNCTION)
    op.execute(PREVIOUS_UPDATE_TRIGGER)
    op.drop_index(op.f("ix_delegated_keys_key_prefix"), table_name="delegated_keys")
    op.drop_index(op.f("ix_delegated_keys_connection_id"), table_name="delegated_keys")
    op.drop_table("delegated_keys")
    op.drop_index("uq_connection_external_ids_owner", table_name="connection_external_ids")
    op.drop_table("connection_external_ids")
    op.drop_index("ix_connections_labels", table_name="connections")
    op.drop_index("uq_connections_default", table_name="connections")
    for column in ("revision", "labels", "metadata", "enabled", "is_default"):
        op.drop_column("connections", column)
