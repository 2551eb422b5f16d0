"""one audit row per export (who, when, which selection, how many rows, the files' SHA-256,
the requests' ids in one column) instead of a `reexported` and a `viewed` event per request:
a re-export of 100,000 requests wrote 200,000 event rows, each checking its foreign key

The events already written become export rows: a re-export's `reexported` events (one time
and one selection per run) with its `viewed` ones, and a new batch's `viewed` events (one per
request and chunk, at the chunk's time) grouped by the batch their `exported` event names.
The `exported` events themselves stay: they record each request's change of status.
Downgrade writes the events back from the rows (the files' digests have no place there).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-13
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from db.id_lists import IdArray

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 1000
NEW = "new"
CLI = "cli "

events = sa.table(
    "request_events",
    sa.column("id", sa.Integer()),
    sa.column("request_id", sa.Integer()),
    sa.column("actor_id", sa.BigInteger()),
    sa.column("action", sa.String()),
    sa.column("from_status", sa.String()),
    sa.column("to_status", sa.String()),
    sa.column("details", sa.JSON()),
    sa.column("at", sa.DateTime(timezone=True)),
)
VIEW_COLUMNS = (events.c.id, events.c.request_id, events.c.actor_id, events.c.details, events.c.at)
audit = sa.table(
    "export_audit",
    sa.column("id", sa.Integer()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor_id", sa.BigInteger()),
    sa.column("cli", sa.Boolean()),
    sa.column("selection", sa.String()),
    sa.column("batch_id", sa.Integer()),
    sa.column("count", sa.Integer()),
    sa.column("files", sa.JSON()),
    sa.column("first_id", sa.Integer()),
    sa.column("last_id", sa.Integer()),
    sa.column("request_ids", IdArray()),
)


def upgrade() -> None:
    op.create_table(
        "export_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("cli", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("selection", sa.String(length=64), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=True),
        sa.Column("first_id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column(
            "request_ids",
            sa.LargeBinary().with_variant(postgresql.ARRAY(sa.Integer()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_audit")),
    )
    op.create_index(op.f("ix_export_audit_at"), "export_audit", ["at"])
    _events_to_rows(op.get_bind())


def _utc(value: datetime) -> datetime:
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _events_to_rows(bind: sa.Connection) -> None:
    # (time, actor, selection as typed) → ids: one re-export.
    again: dict[tuple[datetime, int | None, str], set[int]] = defaultdict(set)
    done: list[int] = []
    for event_id, request_id, actor_id, details, at in bind.execute(
        sa.select(
            events.c.id, events.c.request_id, events.c.actor_id, events.c.details, events.c.at
        )
        .where(events.c.action == "reexported")
        .order_by(events.c.id)
    ):
        how = str((details or {}).get("selection") or "")
        again[(_utc(at), actor_id, how)].add(request_id)
        done.append(event_id)
    # A new batch's `exported` events: (request, time) → batch.
    batches: dict[tuple[int, datetime], int | None] = {}
    for request_id, details, at in bind.execute(
        sa.select(events.c.request_id, events.c.details, events.c.at).where(
            events.c.action == "exported"
        )
    ):
        batch = (details or {}).get("batch")
        batches[(request_id, _utc(at))] = int(batch) if batch is not None else None
    # (actor, cli, batch or the time when no batch is known) → first time, ids.
    new: dict[tuple[int | None, bool, Any], tuple[datetime, set[int]]] = {}
    reexport_views: dict[tuple[datetime, int | None], bool] = {}
    for (at, actor_id, how), _ids in again.items():
        reexport_views[(at, actor_id)] = how.startswith(CLI)
    for event_id, request_id, actor_id, details, at in bind.execute(
        sa.select(
            events.c.id, events.c.request_id, events.c.actor_id, events.c.details, events.c.at
        )
        .where(
            events.c.action == "viewed",
            sa.cast(events.c.details, sa.Text()).like("%export%"),
        )
        .order_by(events.c.id)
    ):
        if (details or {}).get("via") != "export":
            continue
        at = _utc(at)
        done.append(event_id)
        if (at, actor_id) in reexport_views:
            continue  # the re-export's row stands for it
        batch = batches.get((request_id, at))
        key = (actor_id, bool((details or {}).get("cli")), batch if batch is not None else at)
        first, ids = new.get(key, (at, set()))
        ids.add(request_id)
        new[key] = (min(first, at), ids)
    rows = []
    for (at, actor_id, how), ids in again.items():
        cli = how.startswith(CLI)
        rows.append(_row(at, actor_id, cli, how.removeprefix(CLI) if cli else how, None, ids))
    for (actor_id, cli, key), (at, ids) in new.items():
        batch = key if isinstance(key, int) else None
        rows.append(_row(at, actor_id, cli, NEW, batch, ids))
    rows.sort(key=lambda r: r["at"])
    for row in rows:
        bind.execute(sa.insert(audit).values(**row))
    for start in range(0, len(done), CHUNK):
        bind.execute(sa.delete(events).where(events.c.id.in_(done[start : start + CHUNK])))


def _row(
    at: datetime, actor_id: int | None, cli: bool, selection: str, batch: int | None, ids: set[int]
) -> dict[str, Any]:
    ordered = sorted(ids)
    return {
        "at": at,
        "actor_id": actor_id,
        "cli": cli,
        "selection": selection[:64],
        "batch_id": batch,
        "count": len(ordered),
        "files": None,
        "first_id": ordered[0],
        "last_id": ordered[-1],
        "request_ids": ordered,
    }


def downgrade() -> None:
    bind = op.get_bind()
    existing = {int(i) for i in bind.execute(sa.text("SELECT id FROM access_requests")).scalars()}
    for at, actor_id, cli, selection, ids in bind.execute(
        sa.select(
            audit.c.at, audit.c.actor_id, audit.c.cli, audit.c.selection, audit.c.request_ids
        ).order_by(audit.c.id)
    ):
        kept = [i for i in ids if i in existing]
        view: dict[str, Any] = {"via": "export", "cli": True} if cli else {"via": "export"}
        rows: list[dict[str, Any]] = []
        if selection != NEW:
            how = f"{CLI}{selection}" if cli else selection
            rows += [_event(i, "reexported", actor_id, {"selection": how}, at) for i in kept]
        rows += [_event(i, "viewed", actor_id, view, at) for i in kept]
        for start in range(0, len(rows), CHUNK):
            bind.execute(sa.insert(events), rows[start : start + CHUNK])
    op.drop_index(op.f("ix_export_audit_at"), table_name="export_audit")
    op.drop_table("export_audit")


def _event(
    request_id: int, action: str, actor_id: int | None, details: dict[str, Any], at: datetime
) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "actor_id": actor_id,
        "action": action,
        "from_status": None,
        "to_status": None,
        "details": details,
        "at": at,
    }
