"""connections whose sealed tokens do not open: the ``credentials_unreadable`` status

Revision ID: 20261206_sealed
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261206_sealed"
down_revision: str | None = "20261206_claim"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Not used by this revision, so adding it inside the migration's transaction is allowed.
    op.execute("ALTER TYPE connection_status ADD VALUE IF NOT EXISTS 'credentials_unreadable'")


def downgrade() -> None:
    # PostgreSQL cannot drop an enum value: such connections go back to needing a re-connect, and
    # the type is built again without the value.
    op.execute(
        "UPDATE connections SET status = 'needs_reauth' WHERE status = 'credentials_unreadable'"
    )
    # Triggers whose condition reads the column block the type change: kept as defined, re-created.
    bind = op.get_bind()
    triggers = bind.execute(
        sa.text(
            "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
            "WHERE tgrelid = 'connections'::regclass AND NOT tgisinternal"
        )
    ).all()
    for name, _definition in triggers:
        op.execute(f'DROP TRIGGER "{name}" ON connections')
    op.execute("DROP INDEX ix_connections_due")
    op.execute("ALTER TYPE connection_status RENAME TO connection_status_old")
    op.execute("CREATE TYPE connection_status AS ENUM ('active', 'needs_reauth', 'revoked')")
    op.execute(
        "ALTER TABLE connections ALTER COLUMN status TYPE connection_status "
        "USING status::text::connection_status"
    )
    op.execute("DROP TYPE connection_status_old")
    op.execute(
        "CREATE INDEX ix_connections_due ON connections (next_refresh_at) WHERE status = 'active'"
    )
    for _name, definition in triggers:
        op.execute(definition)
