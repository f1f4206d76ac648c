"""Index idempotency keys only where there is one: most decisions have none.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_constraint("uq_decisions_caller_idempotency_key", type_="unique")
    op.create_index("uq_decisions_caller_idempotency_key", "decisions", ["caller", "idempotency_key"], unique=True,
                    sqlite_where=sa.text("idempotency_key IS NOT NULL"),
                    postgresql_where=sa.text("idempotency_key IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("uq_decisions_caller_idempotency_key", table_name="decisions")
    with op.batch_alter_table("decisions") as batch:
        batch.create_unique_constraint("uq_decisions_caller_idempotency_key", ["caller", "idempotency_key"])
