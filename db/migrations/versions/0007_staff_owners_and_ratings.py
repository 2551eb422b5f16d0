"""staff owners, revoked invites, one rating per closing, proof of support-data erasure

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both backends: no table rebuild.
    op.add_column(
        "staff", sa.Column("owner", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    op.add_column(
        "staff_invites", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "support_threads",
        sa.Column("awaiting_rating", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
    )
    op.create_index(op.f("ix_erasures_telegram_id"), "erasures", ["telegram_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_erasures_telegram_id"), table_name="erasures")
    op.drop_table("erasures")
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35), as in 0005: a batch rebuild is not needed.
    op.execute("ALTER TABLE support_threads DROP COLUMN awaiting_rating")
    op.execute("ALTER TABLE staff_invites DROP COLUMN revoked_at")
    op.execute("ALTER TABLE staff DROP COLUMN owner")
