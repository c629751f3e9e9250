"""forwarded provider events: the table of events that matched no connection

A verified Contio webhook for a user no connection holds is kept here for inspection (never
forwarded), its data sealed, until ``GATEWAY_UNMATCHED_EVENT_RETENTION_DAYS`` passes. A new table
only: replicas of the previous version never read or write it.

Revision ID: 20261208_forwarding
Revises: 20261208_subscriptions
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261208_forwarding"
down_revision: str | None = "20261208_subscriptions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unmatched_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unmatched_events")),
    )
    op.create_index(
        op.f("ix_unmatched_events_received_at"),
        "unmatched_events",
        ["received_at", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_unmatched_events_event_type_received_at"),
        "unmatched_events",
        ["event_type", "received_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_unmatched_events_event_type_received_at"), table_name="unmatched_events")
    op.drop_index(op.f("ix_unmatched_events_received_at"), table_name="unmatched_events")
    op.drop_table("unmatched_events")
