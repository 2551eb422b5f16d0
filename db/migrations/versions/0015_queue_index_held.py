"""/queue's index also holds whether the card waits for the organisation, so its count and its
page are read from the index alone (since 0011 each waiting request was looked up in the table)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_access_requests_queue", table_name="access_requests")
    op.create_index(
        "ix_access_requests_queue",
        "access_requests",
        ["status", "org_card_held", "submitted_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_access_requests_queue", table_name="access_requests")
    op.create_index("ix_access_requests_queue", "access_requests", ["status", "submitted_at", "id"])
