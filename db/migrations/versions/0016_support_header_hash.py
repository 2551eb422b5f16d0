"""The support topic's header remembers what it shows, so an update that changes nothing is
not sent (Telegram refuses an edit to the same text: «message is not modified»)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("support_threads") as batch:
        batch.add_column(sa.Column("header_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("support_threads") as batch:
        batch.drop_column("header_hash")
