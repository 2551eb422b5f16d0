"""a support thread's first text may go inside its header's message (one message of the
group's 20 a minute, not two); the header's edits keep it, so it is stored with the thread

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-14
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("support_threads") as batch:
        batch.add_column(sa.Column("header_tail", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("support_threads") as batch:
        batch.drop_column("header_tail")
