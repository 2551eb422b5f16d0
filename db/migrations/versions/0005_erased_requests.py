"""personal data erased on consent withdrawal

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_LIVE = "status NOT IN ('rejected', 'cancelled')"
# An erased request has no SNILS left to be unique about.
NEW_LIVE = "status NOT IN ('rejected', 'cancelled') AND erased_at IS NULL"


def _live_index(where: str) -> None:
    op.create_index(
        "uq_access_requests_live",
        "access_requests",
        ["snils", "component", "role"],
        unique=True,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    op.add_column(
        "access_requests", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.drop_index("uq_access_requests_live", table_name="access_requests")
    _live_index(NEW_LIVE)


def downgrade() -> None:
    op.drop_index("uq_access_requests_live", table_name="access_requests")
    # Erased requests have no SNILS: give each its own, or the old index would see them as
    # one person's duplicates.
    op.execute(
        "UPDATE access_requests SET snils = 'x' || CAST(id AS TEXT) WHERE erased_at IS NOT NULL"
    )
    _live_index(OLD_LIVE)
    # Plain ALTER TABLE (SQLite ≥ 3.35): a batch rebuild of the table would fail on the foreign
    # keys of its events and lose the expression index on lower(email).
    op.execute("ALTER TABLE access_requests DROP COLUMN erased_at")
