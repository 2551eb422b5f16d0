"""a live request is unique per Telegram account; e-mails are claimed at approval

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

Before, a live request was unique per SNILS, and an e-mail was claimed by the first SNILS that
submitted it: anyone typing a victim's SNILS or address first locked the victim out. Now the
same SNILS from another Telegram account is accepted (the admins' card flags it), and an
address is claimed only when a request with it is approved.

The downgrade brings back the old index; it fails (and changes nothing) if two Telegram
accounts have live requests of one SNILS and role by then: resolve those first.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "status NOT IN ('rejected', 'cancelled') AND erased_at IS NULL"
# The same conditions on a table alias {t}, for rebuilding the claims.
LIVE_ON = "{t}.status NOT IN ('rejected', 'cancelled') AND {t}.erased_at IS NULL"
HOLDING_ON = "{t}.status IN ('approved', 'exported', 'access_granted') AND {t}.erased_at IS NULL"


def _live_index(columns: list[str]) -> None:
    op.create_index(
        "uq_access_requests_live",
        "access_requests",
        columns,
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )


def _claims_from(where: str) -> None:
    """Rebuild the claims: each address goes to the SNILS of its earliest matching request."""
    op.execute("DELETE FROM email_claims")
    op.execute(
        "INSERT INTO email_claims (email, snils, claimed_at) "
        "SELECT lower(r.email), r.snils, COALESCE(r.decided_at, r.created_at) "
        "FROM access_requests r "
        f"WHERE {where.format(t='r')} AND r.email <> '' AND r.id = ("
        "  SELECT min(o.id) FROM access_requests o "
        f"  WHERE lower(o.email) = lower(r.email) AND {where.format(t='o')})"
    )


def upgrade() -> None:
    op.drop_index("uq_access_requests_live", table_name="access_requests")
    _live_index(["telegram_id", "snils", "component", "role"])
    _claims_from(HOLDING_ON)


def downgrade() -> None:
    op.drop_index("uq_access_requests_live", table_name="access_requests")
    _live_index(["snils", "component", "role"])
    _claims_from(LIVE_ON)
