"""app options (strip_cookie, allow_preflight); audit events by decision id

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
    op.create_index("ix_audit_events_decision_id", "audit_events", ["decision_id"])
    with op.batch_alter_table("applications") as batch:
        batch.add_column(
            sa.Column("strip_cookie", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("allow_preflight", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.drop_column("allow_preflight")
        batch.drop_column("strip_cookie")
    op.drop_index("ix_audit_events_decision_id", "audit_events")
