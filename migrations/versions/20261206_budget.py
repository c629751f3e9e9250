"""budget: the token-endpoint budget counted per spender; when a 401 last forced a refresh

Revision ID: 20261206_budget
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261206_budget"
down_revision: str | None = "20261206_owner"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # What was spent before the split stays counted (as the refresher's, most of it) until its
    # window passes.
    op.add_column(
        "token_budget_windows",
        sa.Column("spender", sa.String(length=64), nullable=False, server_default="refresher"),
    )
    op.alter_column("token_budget_windows", "spender", server_default=None)
    op.add_column(
        "connections",
        sa.Column("unauthorized_refresh_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.drop_constraint("pk_token_budget_windows", "token_budget_windows", type_="primary")
    op.create_primary_key(
        "pk_token_budget_windows", "token_budget_windows", ["provider", "spender", "window_start"]
    )


def downgrade() -> None:
    op.drop_column("connections", "unauthorized_refresh_at")
    op.execute("DELETE FROM token_budget_windows WHERE spender <> 'refresher'")
    op.drop_constraint("pk_token_budget_windows", "token_budget_windows", type_="primary")
    op.drop_column("token_budget_windows", "spender")
    op.create_primary_key(
        "pk_token_budget_windows", "token_budget_windows", ["provider", "window_start"]
    )
