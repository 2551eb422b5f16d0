"""the age of the oldest undelivered outbox row read from an index: /healthz and /health
visited every pending row for it (a slow answer while a backlog waits)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "state = 'pending'"


def upgrade() -> None:
    op.create_index(
        "ix_outbox_pending_age",
        "outbox",
        ["created_at"],
        sqlite_where=sa.text(PENDING),
        postgresql_where=sa.text(PENDING),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_pending_age", table_name="outbox")
