"""a connection's settings: what its provider's token response said about it, or an operator set

``connections.settings`` (a JSON object of strings, empty for every existing connection) holds the
values an ``api_base_url`` template names (Salesforce's ``instance_url``). A change of them is
announced like a change of the token, so every replica's proxy drops its cached token, whose
injection carries the API base URL they make.

Revision ID: 20261208_settings
Revises: 20261208_forwarding
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261208_settings"
down_revision: str | None = "20261208_forwarding"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPDATE_TRIGGER = """
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

# As 20261207_managed left it.
PREVIOUS_UPDATE_TRIGGER = """
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


def upgrade() -> None:
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
    op.execute(UPDATE_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER connections_notify_update ON connections")
    op.execute(PREVIOUS_UPDATE_TRIGGER)
    op.drop_column("connections", "settings")
