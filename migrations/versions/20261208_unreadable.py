"""connections marked unreadable, found by an index: the refresher looks for them whenever a
process starts (``tokens.unreadable.reopen``), which without it read every connection.

An addition only: replicas of the previous version never read it. Building it holds writes to
``connections`` for as long as it takes to read the table once; ``CONCURRENTLY`` would wait for
the other ``gateway migrate`` runs queued on the migration lock, which wait for it.

Revision ID: 20261208_unreadable
Revises: 20261208_audit
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261208_unreadable"
down_revision: str | None = "20261208_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # After a commit: the enum value it names (added by ``20261206_sealed``, maybe in this same
    # run) must be committed before it is used. The migration lock of ``env.py`` is held across.
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_connections_unreadable",
            "connections",
            ["id"],
            unique=False,
            postgresql_where=sa.text("status = 'credentials_unreadable'"),
        )


def downgrade() -> None:
    op.drop_index("ix_connections_unreadable", table_name="connections")
