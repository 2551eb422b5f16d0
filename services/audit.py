"""Audit of views: every time staff see a person's full data (a card opened with /req or from
a list, a /find result, a card posted or refreshed) one `viewed` event per request says who,
when, which request and through what (`details.via`). Written as one INSERT … SELECT per
page or card, in the caller's transaction.

An export is one `export_audit` row instead (db/models.py ExportAudit): who, when, the
selection, how many rows, the SHA-256 of each file and the ids of the requests it carried.
/history, /mydata and the audit read it beside the events (`exports_of`)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.id_lists import IdArray, holds, pack_ids
from db.models import ExportAudit, utcnow
from services import event_log

VIEWED = "viewed"
VIA_EXPORT = "export"
# An export row's `selection` for a new batch (a re-export keeps the arguments typed).
NEW_BATCH = "new"


async def record_views(
    session: AsyncSession,
    request_ids: Sequence[int],
    *,
    actor_id: int | None,
    via: str,
    at: datetime | None = None,
    **details: Any,
) -> None:
    """One `viewed` event for each request, in one statement (services/event_log.py)."""
    if request_ids:
        await event_log.log_events(
            session, request_ids, VIEWED, actor_id, {"via": via, **details}, at or utcnow()
        )


# --- exports ------------------------------------------------------------------------------------


def file_digest(path: Path) -> str:
    """The file's SHA-256 (hex): what was handed over can be told from any other file later.
    Blocking: call it off the event loop."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def record_export(
    session: AsyncSession,
    request_ids: Sequence[int],
    *,
    actor_id: int | None,
    cli: bool,
    selection: str,
    batch_id: int | None,
    files: Mapping[str, str] | None,
    at: datetime | None = None,
    stored: StoredIds | None = None,
) -> ExportAudit:
    """The export's one audit row, in the caller's transaction. `stored`: the ids made
    ready for the column off the event loop (`stored_ids`), for a large export."""
    ids = stored.ids if stored is not None else sorted(set(request_ids))
    row = ExportAudit(
        at=at or utcnow(),
        actor_id=actor_id,
        cli=cli,
        selection=selection[:64],
        batch_id=batch_id,
        count=len(ids),
        files=dict(files) if files is not None else None,
        first_id=ids[0] if ids else 0,
        last_id=ids[-1] if ids else 0,
        request_ids=stored.value if stored is not None else ids,
    )
    session.add(row)
    return row


@dataclass(frozen=True)
class StoredIds:
    """Ids sorted once, and as the column binds them: `pack_ids` bytes on SQLite (passed
    through by IdArray), the list itself on PostgreSQL."""

    ids: list[int]
    value: list[int] | bytes


def stored_ids(request_ids: Sequence[int], dialect: str) -> StoredIds:
    """Sorting and packing 100,000 ids takes tens of milliseconds: blocking, call it off the
    event loop (the bot's loop must not stall for longer than that)."""
    ids = sorted(set(request_ids))
    return StoredIds(ids, ids if dialect == "postgresql" else pack_ids(ids))


@dataclass(frozen=True)
class ExportSeen:
    """An export that carried a request."""

    request_id: int
    at: datetime
    actor_id: int | None
    cli: bool
    selection: str
    batch_id: int | None

    @property
    def new_batch(self) -> bool:
        return self.selection == NEW_BATCH


async def exports_of(
    session: AsyncSession, requests: Mapping[int, datetime | None]
) -> list[ExportSeen]:
    """The exports that carried these requests ({request id: when it was created}), oldest
    first. An export made before a request existed did not carry it, whatever its ids say: a
    number given again after a backup was restored is another request."""
    if not requests:
        return []
    spans = or_(
        *(and_(ExportAudit.first_id <= i, ExportAudit.last_id >= i) for i in sorted(requests))
    )
    query = (
        select(
            ExportAudit.at,
            ExportAudit.actor_id,
            ExportAudit.cli,
            ExportAudit.selection,
            ExportAudit.batch_id,
            ExportAudit.request_ids,
        )
        .where(spans)
        .order_by(ExportAudit.at, ExportAudit.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        # The array holds one of them (`&&`): no other row's ids leave the database.
        wanted = bindparam("wanted", sorted(requests), type_=IdArray())
        query = query.where(ExportAudit.request_ids.op("&&")(wanted))
    rows = await session.execute(query)
    found = []
    for at, actor_id, cli, selection, batch_id, ids in rows.all():
        for request_id, created in requests.items():
            if holds(ids, request_id) and (created is None or created <= at):
                found.append(ExportSeen(request_id, at, actor_id, cli, selection, batch_id))
    return found
