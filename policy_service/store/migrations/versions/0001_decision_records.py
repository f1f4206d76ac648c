"""Decision records and content-addressed policy versions.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from policy_service.store.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("digest", sa.String(80), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("files", sa.Text, nullable=False),
        sa.Column("stored_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "decisions",
        sa.Column("decision_id", sa.String(36), primary_key=True),
        sa.Column("complaint_id", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128)),
        sa.Column("caller", sa.String(128)),
        sa.Column("idempotency_key", sa.String(128)),
        sa.Column("policy_digest", sa.String(80), sa.ForeignKey("policy_versions.digest"), nullable=False),
        sa.Column("policy_name", sa.String(200), nullable=False),
        sa.Column("policy_version", sa.String(200), nullable=False),
        sa.Column("received_at", UTCDateTime),
        sa.Column("decided_at", UTCDateTime, nullable=False),
        sa.Column("complaint", sa.Text, nullable=False),
        sa.Column("decision", sa.Text, nullable=False),
        sa.UniqueConstraint("caller", "idempotency_key", name="uq_decisions_caller_idempotency_key"),
    )
    op.create_index("ix_decisions_complaint_id", "decisions", ["complaint_id"])
    op.create_index("ix_decisions_policy_digest", "decisions", ["policy_digest"])
    op.create_index("ix_decisions_decided_at", "decisions", ["decided_at"])


def downgrade() -> None:
    op.drop_table("decisions")
    op.drop_table("policy_versions")
