"""A person is their messenger and their id there: the columns that held a Telegram id now
hold an account key (a Telegram id is its own key, so existing rows stay Telegram's), and
MAX's message ids and polling marker get tables of their own

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, its index on the column or None)
RENAMED = (
    ("consents", "ix_consents_{}"),
    ("access_requests", "ix_access_requests_{}"),
    ("staff", None),
    ("erasures", "ix_erasures_{}"),
    ("responsible_applications", None),
)


def _rename(old: str, new: str) -> None:
    for table, index in RENAMED:
        if index is not None:
            op.drop_index(index.format(old), table_name=table)
        # Both SQLite (3.25+) and PostgreSQL rename a column in place, keeping the partial
        # unique indexes and the search triggers that name it.
        op.execute(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}")
        if index is not None:
            op.create_index(index.format(new), table, [new], unique=False)


def upgrade() -> None:
    _rename("telegram_id", "account_id")
    op.create_table(
        "max_messages",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("mid", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", "message_id", name=op.f("pk_max_messages")),
    )
    op.create_index(
        op.f("ix_max_messages_created_at"), "max_messages", ["created_at"], unique=False
    )
    op.create_table(
        "max_markers",
        sa.Column("bot_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("marker", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("bot_id", name=op.f("pk_max_markers")),
    )


def downgrade() -> None:
    op.drop_table("max_markers")
    op.drop_index(op.f("ix_max_messages_created_at"), table_name="max_messages")
    op.drop_table("max_messages")
    _rename("account_id", "telegram_id")
