"""the audit trail that leaves the database: origin, stream cursor, hash-chained segments

Adds the source address, user agent, writing transaction id and (set by the sealer) segment and
chain hash to ``audit_events``, and the ``audit_segments`` and ``audit_cursors`` tables. Additions
only: replicas of the previous version keep inserting entries (the transaction id has a default)
and never read the new columns.

Revision ID: 20261208_audit
Revises: 20261208_settings
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261208_audit"
down_revision: str | None = "20261208_settings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_TRANSACTION = sa.text("(pg_current_xact_id()::text)::bigint")


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("source_address", sa.String(length=64), nullable=True))
    op.add_column("audit_events", sa.Column("user_agent", sa.String(length=256), nullable=True))
    # Existing entries get 0: older than any transaction, so the stream and sealer take them first.
    op.add_column(
        "audit_events",
        sa.Column("txid", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.alter_column("audit_events", "txid", server_default=CURRENT_TRANSACTION)
    op.add_column("audit_events", sa.Column("segment", sa.BigInteger(), nullable=True))
    op.add_column("audit_events", sa.Column("chain_hash", sa.String(length=64), nullable=True))
    op.create_index("ix_audit_events_txid_id", "audit_events", ["txid", "id"], unique=False)
    op.create_index("ix_audit_events_segment", "audit_events", ["segment"], unique=False)
    op.create_table(
        "audit_segments",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "sealed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("previous", sa.String(length=64), nullable=False),
        sa.Column("anchor", sa.String(length=64), nullable=False),
        sa.Column("streamed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_segments")),
    )
    op.create_table(
        "audit_cursors",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("last_id", sa.Uuid(), nullable=True),
        sa.Column("anchor", sa.String(length=64), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_audit_cursors")),
    )


def downgrade() -> None:
    op.drop_table("audit_cursors")
    op.drop_table("audit_segments")
    op.drop_index("ix_audit_events_segment", table_name="audit_events")
    op.drop_index("ix_audit_events_txid_id", table_name="audit_events")
    for column in ("chain_hash", "segment", "txid", "user_agent", "source_address"):
        op.drop_column("audit_events", column)
