"""indexes for admin work at 100,000 requests

Revision ID: 0008
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

from db import search_index

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # /queue: waiting requests, oldest first, read from the index in order.
    op.create_index("ix_access_requests_queue", "access_requests", ["status", "submitted_at", "id"])
    # /coverage: does an organisation have a request in a covered status?
    op.create_index(
        "ix_access_requests_org_status", "access_requests", ["organization_id", "status"]
    )
    # /stats: counts by role, and the time to decision, each read from an index alone.
    op.create_index("ix_access_requests_role", "access_requests", ["role"])
    op.create_index(
        "ix_access_requests_decided", "access_requests", ["status", "decided_at", "submitted_at"]
    )
    # /find by words: an index of the search keys' words (db/search_index.py).
    for statement in search_index.create_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in search_index.drop_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_index("ix_access_requests_decided", table_name="access_requests")
    op.drop_index("ix_access_requests_role", table_name="access_requests")
    op.drop_index("ix_access_requests_org_status", table_name="access_requests")
    op.drop_index("ix_access_requests_queue", table_name="access_requests")
