"""the order's loose ends: the health department as an organisation to pick (order No 922,
item 3.1: chief specialists), /broadcast by organisation and with a document (items
4.2-4.3), the instruction documents «📖 Инструкция» hands out (item 4.3)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The department's row itself is made by the bot (its name comes from REGION_NAME,
    # a setting the migration does not read): services/organizations.ensure_department.
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(
            sa.Column(
                "is_department", sa.Boolean(), server_default=sa.text("false"), nullable=False
            )
        )
    with op.batch_alter_table("broadcasts") as batch:
        batch.add_column(sa.Column("organization_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("file", sa.JSON(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_broadcasts_organization_id_organizations"),
            "organizations",
            ["organization_id"],
            ["id"],
        )
    op.create_table(
        "guide_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("file", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guide_documents")),
    )


def downgrade() -> None:
    op.drop_table("guide_documents")
    with op.batch_alter_table("broadcasts") as batch:
        batch.drop_constraint(
            op.f("fk_broadcasts_organization_id_organizations"), type_="foreignkey"
        )
        batch.drop_column("file")
        batch.drop_column("organization_id")
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("is_department")
