"""a group's outbox lane takes people in turns: one person's burst of questions no longer
holds everyone else's back (the support group sends 20 messages a minute)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "state = 'pending'"


def upgrade() -> None:
    # A plain ADD COLUMN with a default (no copy of the table on SQLite): every row so far
    # takes turn 0, the lanes stay in id order.
    op.add_column("outbox", sa.Column("turn", sa.Integer(), nullable=False, server_default="0"))
    op.drop_index("ix_outbox_pending_lane", table_name="outbox")
    op.create_index(
        "ix_outbox_pending_lane",
        "outbox",
        ["chat_id", "turn", "id"],
        sqlite_where=sa.text(PENDING),
        postgresql_where=sa.text(PENDING),
    )
    op.create_index(
        "ix_outbox_pending_leased",
        "outbox",
        ["chat_id", "lease_until"],
        sqlite_where=sa.text(PENDING),
        postgresql_where=sa.text(PENDING),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_pending_leased", table_name="outbox")
    op.drop_index("ix_outbox_pending_lane", table_name="outbox")
    op.create_index(
        "ix_outbox_pending_lane",
        "outbox",
        ["chat_id", "id"],
        sqlite_where=sa.text(PENDING),
        postgresql_where=sa.text(PENDING),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("turn")
