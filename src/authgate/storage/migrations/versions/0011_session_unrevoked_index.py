"""sessions: a partial index of unrevoked sessions by expiry, to count live ones from it alone

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UNREVOKED = sa.text("revoked_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_sessions_unrevoked_expires_at",
        "sessions",
        ["expires_at", "revoked_at"],
        sqlite_where=UNREVOKED,
        postgresql_where=UNREVOKED,
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_unrevoked_expires_at", "sessions")
