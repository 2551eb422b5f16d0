"""staff bound to an organisation (responsible persons, order No 922 item 2.1)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in ("staff", "staff_invites"):
        if sqlite:
            # SQLite takes REFERENCES on ADD COLUMN (the default is NULL): no table rebuild.
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN organization_id INTEGER "
                f"CONSTRAINT fk_{table}_organization_id_organizations REFERENCES organizations (id)"
            )
        else:
            op.add_column(table, sa.Column("organization_id", sa.Integer(), nullable=True))
            op.create_foreign_key(
                op.f(f"fk_{table}_organization_id_organizations"),
                table,
                "organizations",
                ["organization_id"],
                ["id"],
            )
    op.create_index(op.f("ix_staff_organization_id"), "staff", ["organization_id"], unique=False)
    op.add_column("staff_events", sa.Column("organization_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE staff_events DROP COLUMN organization_id")
    op.drop_index(op.f("ix_staff_organization_id"), table_name="staff")
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in ("staff_invites", "staff"):
        if not sqlite:
            op.drop_constraint(
                op.f(f"fk_{table}_organization_id_organizations"), table, type_="foreignkey"
            )
        else:
            # SQLite refuses DROP COLUMN on a column with a foreign key: rebuild this small table.
            with op.batch_alter_table(table) as batch:
                batch.drop_column("organization_id")
            continue
        op.drop_column(table, "organization_id")
