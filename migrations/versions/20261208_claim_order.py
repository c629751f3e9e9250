"""active connections in expiry order, found by an index: the refresher's claim (``tokens.lease``)
takes the due connections nearest expiry first, which without it read and sorted every active one
on each claim once most of them were due (after an outage, or when a fleet is seeded at once).

An addition only: replicas of the previous version never read it. Like ``20261208_unreadable`` it
is built without ``CONCURRENTLY``, holding writes to ``connections`` for one read of the table.

Revision ID: 20261208_claim_order
Revises: 20261208_unreadable
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261208_claim_order"
down_revision: str | None = "20261208_unreadable"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The claim orders NULLS FIRST (a connection of unknown expiry goes first); the index must too,
    # or the planner cannot walk it in that order.
    op.create_index(
        "ix_connections_expiry",
        "connections",
        [sa.text("expires_at NULLS FIRST")],
        unique=False,
        postgresql_where=sa.text("status = 'active'"),
    )


def downgrade() -> None:
    op.drop_index("ix_connections_expiry", table_name="connections")
