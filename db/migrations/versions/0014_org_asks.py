"""where responsible persons were asked about a request, so an erasure rewrites the ask

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "org_asks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["access_requests.id"],
            name=op.f("fk_org_asks_request_id_access_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_asks")),
    )
    op.create_index(op.f("ix_org_asks_request_id"), "org_asks", ["request_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_org_asks_request_id"), table_name="org_asks")
    op.drop_table("org_asks")
