"""the retention job's index: ended requests that still hold personal data, by end time

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RETENTION_PENDING = "erased_at IS NULL AND status IN ('access_granted', 'rejected', 'cancelled')"


def upgrade() -> None:
    op.create_index(
        "ix_access_requests_retention",
        "access_requests",
        ["updated_at"],
        sqlite_where=sa.text(RETENTION_PENDING),
        postgresql_where=sa.text(RETENTION_PENDING),
    )


def downgrade() -> None:
    op.drop_index("ix_access_requests_retention", table_name="access_requests")
