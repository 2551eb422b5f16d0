"""the organisation's form signed by its head, sent back (order No 922, item 2.3), and the
head's appointment in an application to become a responsible person (item 2.1)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLE = "responsible_applications"


def _appointment() -> list[sa.Column[object]]:
    return [
        sa.Column("appointment", sa.Text(), nullable=True),
        sa.Column("appointment_file_id", sa.String(length=256), nullable=True),
        sa.Column("appointment_file_kind", sa.String(length=16), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "org_forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_org_forms_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_forms")),
    )
    op.create_index(op.f("ix_org_forms_organization_id"), "org_forms", ["organization_id"])
    op.create_table(
        "org_form_requests",
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_id"], ["org_forms.id"], name=op.f("fk_org_form_requests_form_id_org_forms")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["access_requests.id"],
            name=op.f("fk_org_form_requests_request_id_access_requests"),
        ),
        sa.PrimaryKeyConstraint("form_id", "request_id", name=op.f("pk_org_form_requests")),
    )
    op.create_index(op.f("ix_org_form_requests_request_id"), "org_form_requests", ["request_id"])
    for column in _appointment():
        op.add_column(TABLE, column)


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+, PostgreSQL): a batch copy of the table would have to
    # rebuild its partial unique index by hand.
    for column in reversed(_appointment()):
        op.drop_column(TABLE, column.name)
    op.drop_index(op.f("ix_org_form_requests_request_id"), table_name="org_form_requests")
    op.drop_table("org_form_requests")
    op.drop_index(op.f("ix_org_forms_organization_id"), table_name="org_forms")
    op.drop_table("org_forms")
