"""confirmation of requests by organisations' responsible persons; asking to become one

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "status = 'pending'"
COLUMNS = ("org_confirmation", "org_card_held", "org_answered_by", "org_answered_at", "org_reason")


def upgrade() -> None:
    # Nullable or with a default: SQLite adds each without rebuilding the large table.
    op.add_column(
        "access_requests", sa.Column("org_confirmation", sa.String(length=16), nullable=True)
    )
    op.add_column(
        "access_requests",
        sa.Column("org_card_held", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column("access_requests", sa.Column("org_answered_by", sa.BigInteger(), nullable=True))
    op.add_column(
        "access_requests",
        sa.Column("org_answered_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column("access_requests", sa.Column("org_reason", sa.Text(), nullable=True))
    op.create_index(
        "ix_access_requests_org_held",
        "access_requests",
        ["org_card_held", "submitted_at"],
        unique=False,
    )
    op.create_table(
        "responsible_applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_responsible_applications_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responsible_applications")),
    )
    op.create_index(
        "uq_responsible_applications_pending",
        "responsible_applications",
        ["telegram_id"],
        unique=True,
        sqlite_where=sa.text(PENDING),
        postgresql_where=sa.text(PENDING),
    )


def downgrade() -> None:
    op.drop_index("uq_responsible_applications_pending", table_name="responsible_applications")
    op.drop_table("responsible_applications")
    op.drop_index("ix_access_requests_org_held", table_name="access_requests")
    for column in reversed(COLUMNS):
        op.execute(f"ALTER TABLE access_requests DROP COLUMN {column}")
