"""ownership: every connection has an owner and lives in a space

``owner_client_id`` names the one service client that may change a connection besides operators
(NULL: ``operator``). ``confined_to_client_id`` names the space it lives in: a confined client's own
(its id) or the shared one (NULL). A user has one connection per provider in each space.

Existing rows go to the client that created them (rows without one to ``operator``); rows created
by a client that is confined now move into that client's space. The proxy's token cache is keyed by
space, so the NOTIFY payload names the space too, and a row that moves tells both spaces.

Revision ID: 20261206_owner
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261206_owner"
down_revision: str | None = "20261206_sealed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_UNIQUE = "uq_connections_user_id_provider"
NEW_UNIQUE = "uq_connections_user_id_provider_confined_to_client_id"

CONNECTION_FUNCTION = """
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

OLD_CONNECTION_FUNCTION = """
CREATE OR REPLACE FUNCTION gateway_notify_connection_changed() RETURNS trigger
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

UPDATE_TRIGGER = """
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

OLD_UPDATE_TRIGGER = """
CREATE TRIGGER connections_notify_update AFTER UPDATE ON connections FOR EACH ROW
WHEN (
    (OLD.token_version, OLD.status, OLD.expires_at, OLD.created_by_client_id, OLD.user_id)
    IS DISTINCT FROM
    (NEW.token_version, NEW.status, NEW.expires_at, NEW.created_by_client_id, NEW.user_id)
)
EXECUTE FUNCTION gateway_notify_connection_changed()
"""

# The shared key comes back only if no user has connections in two spaces: say so, drop nothing.
REFUSE_DOWNGRADE_WITH_SPACES = """
DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM connections GROUP BY user_id, provider HAVING count(*) > 1
    ) THEN
        RAISE EXCEPTION 'some users have connections in more than one space; transfer or revoke '
            'and delete them until each (user_id, provider) has one row, then downgrade';
    END IF;
END
$$
"""


def upgrade() -> None:
    op.add_column("connections", sa.Column("owner_client_id", sa.Uuid(), nullable=True))
    op.add_column("connections", sa.Column("confined_to_client_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_connections_owner_client_id_service_clients"),
        "connections",
        "service_clients",
        ["owner_client_id"],
        ["id"],
    )
    op.create_foreign_key(
        op.f("fk_connections_confined_to_client_id_service_clients"),
        "connections",
        "service_clients",
        ["confined_to_client_id"],
        ["id"],
    )
    op.execute("UPDATE connections SET owner_client_id = created_by_client_id")
    op.execute(
        "UPDATE connections SET confined_to_client_id = connections.created_by_client_id "
        "FROM service_clients WHERE service_clients.id = connections.created_by_client_id "
        "AND service_clients.own_users_only"
    )
    op.drop_constraint(OLD_UNIQUE, "connections", type_="unique")
    op.create_unique_constraint(
        NEW_UNIQUE,
        "connections",
        ["user_id", "provider", "confined_to_client_id"],
        postgresql_nulls_not_distinct=True,
    )
    op.execute("DROP TRIGGER connections_notify_update ON connections")
    op.execute(CONNECTION_FUNCTION)
    op.execute(UPDATE_TRIGGER)


def downgrade() -> None:
    op.execute(REFUSE_DOWNGRADE_WITH_SPACES)
    op.execute("DROP TRIGGER connections_notify_update ON connections")
    op.execute(OLD_CONNECTION_FUNCTION)
    op.execute(OLD_UPDATE_TRIGGER)
    op.drop_constraint(NEW_UNIQUE, "connections", type_="unique")
    op.create_unique_constraint(OLD_UNIQUE, "connections", ["user_id", "provider"])
    op.drop_constraint(
        op.f("fk_connections_confined_to_client_id_service_clients"),
        "connections",
        type_="foreignkey",
    )
    op.drop_constraint(
        op.f("fk_connections_owner_client_id_service_clients"), "connections", type_="foreignkey"
    )
    op.drop_column("connections", "confined_to_client_id")
    op.drop_column("connections", "owner_client_id")
