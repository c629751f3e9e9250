"""managed connections, contract step: several connections per (user, provider) in a space

Drops the constraint that allowed one connection per (user, provider, space); the partial unique
index of the expand step keeps one *default* there. A contract step: ``gateway migrate`` stops
before it until an operator runs ``gateway migrate --contract``, once no replica of a version older
than the expand step is left (``docs/connections.md``, "Rolling out").

Revision ID: 20261207_contract
Revises: 20261208_claim_order
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261207_contract"
down_revision: str | None = "20261208_claim_order"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Applied only on request: see gateway.kit.migrations.
contract = True

ONE_PER_SPACE = "uq_connections_user_id_provider_confined_to_client_id"

# The constraint comes back only if every (user, provider, space) has one connection: say so.
REFUSE_DOWNGRADE_WITH_ADDITIONAL = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM connections WHERE NOT is_default) THEN
        RAISE EXCEPTION 'some users have additional connections; revoke and delete them until '
            'each (user_id, provider, space) has one connection, then downgrade';
    END IF;
END
$$
"""


def upgrade() -> None:
    op.drop_constraint(ONE_PER_SPACE, "connections", type_="unique")


def downgrade() -> None:
    op.execute(REFUSE_DOWNGRADE_WITH_ADDITIONAL)
    op.create_unique_constraint(
        ONE_PER_SPACE,
        "connections",
        ["user_id", "provider", "confined_to_client_id"],
        postgresql_nulls_not_distinct=True,
    )
