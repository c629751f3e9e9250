"""subscriptions: outbound events per service client

A subscription belongs to one service client: its URL, the event types it wants, a label selector
and whether it is enabled. Its signing secrets are rows of their own, sealed with the key ring and
bound to the row, several at once while a rotation overlaps. A delivery names its subscription
(NULL: an operator-wide endpoint, as every delivery written before this step).

Revision ID: 20261208_subscriptions
Revises: 20261207_managed
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261208_subscriptions"
down_revision: str | None = "20261207_managed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event_types", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column(
            "label_values",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("label_keys", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["service_clients.id"],
            name="fk_subscriptions_client_id_service_clients",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
    )
    op.create_index("ix_subscriptions_client_id", "subscriptions", ["client_id"])
    op.create_index(
        "ix_subscriptions_event_types", "subscriptions", ["event_types"], postgresql_using="gin"
    )
    op.create_table(
        "subscription_secrets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name="fk_subscription_secrets_subscription_id_subscriptions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_subscription_secrets"),
    )
    op.create_index(
        "ix_subscription_secrets_subscription_id", "subscription_secrets", ["subscription_id"]
    )
    op.add_column("event_deliveries", sa.Column("subscription_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        "fk_event_deliveries_subscription_id_subscriptions",
        "event_deliveries",
        "subscriptions",
        ["subscription_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_index("ix_event_deliveries_subscription_id", "event_deliveries", ["subscription_id"])


def downgrade() -> None:
    op.drop_index("ix_event_deliveries_subscription_id", table_name="event_deliveries")
    op.drop_constraint(
        "fk_event_deliveries_subscription_id_subscriptions", "event_deliveries", type_="foreignkey"
    )
    op.drop_column("event_deliveries", "subscription_id")
    op.drop_index("ix_subscription_secrets_subscription_id", table_name="subscription_secrets")
    op.drop_table("subscription_secrets")
    op.drop_index("ix_subscriptions_event_types", table_name="subscriptions")
    op.drop_index("ix_subscriptions_client_id", table_name="subscriptions")
    op.drop_table("subscriptions")
