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

from sqlalchemy import Integer, Text, and_, bindparam, cast, insert, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from db.id_lists import PIECE, holds, pack_ids, sorted_unique
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


async def record_export(
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
) -> None:
    """The export's one audit row, in the caller's transaction. `stored`: the ids made
    ready for the column off the event loop (`stored_ids`), for a large export."""
    ids = stored.ids if stored is not None else sorted_unique(request_ids)
    value: Any = stored.value if stored is not None else ids
    if isinstance(value, str):  # PostgreSQL's array as text, parsed by the server
        value = cast(bindparam("request_ids_text", value, type_=Text()), ARRAY(Integer()))
    await session.execute(
        insert(ExportAudit).values(
            at=at or utcnow(),
            actor_id=actor_id,
            cli=cli,
            selection=selection[:64],
            batch_id=batch_id,
            count=len(ids),
            files=dict(files) if files is not None else None,
            first_id=ids[0] if ids else 0,
            last_id=ids[-1] if ids else 0,
            request_ids=value,
        )
    )


@dataclass(frozen=True)
class StoredIds:
    """Ids sorted once, and as the column takes them: `pack_ids` bytes on SQLite (passed
    through by IdArray), the array's text (`{1,2,3}`) on PostgreSQL."""

    ids: list[int]
    value: str | bytes


def stored_ids(request_ids: Sequence[int], dialect: str) -> StoredIds:
    """Sorting and packing 100,000 ids takes tens of milliseconds: blocking, call it off the
    event loop (the bot's loop must not stall for longer than that). On PostgreSQL the ids
    go as the array's text, cast by the server: bound as a list, each of 100,000 ids passed
    through SQLAlchemy's and asyncpg's encoders on the loop (≈ 75–175 ms under load)."""
    ids = sorted_unique(request_ids)
    if dialect == "postgresql":
        pieces = [",".join(map(str, ids[at : at + PIECE])) for at in range(0, len(ids), PIECE)]
        return StoredIds(ids, "{" + ",".join(pieces) + "}")
    return StoredIds(ids, pack_ids(ids))


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
    columns = (
        ExportAudit.at,
        ExportAudit.actor_id,
        ExportAudit.cli,
        ExportAudit.selection,
        ExportAudit.batch_id,
    )
    found = []
    if session.get_bind().dialect.name == "postgresql":
        # The database answers which arrays hold the request (`= ANY`): no array of 100,000
        # ids comes to the bot's loop to be searched there.
        for request_id, created in sorted(requests.items()):
            rows = await session.execute(
                select(*columns)
                .where(
                    ExportAudit.first_id <= request_id,
                    ExportAudit.last_id >= request_id,
                    bindparam("one", request_id, type_=Integer()) == ExportAudit.request_ids.any_(),
                )
                .order_by(ExportAudit.at, ExportAudit.id)
            )
            found += [
                ExportSeen(request_id, at, actor_id, cli, selection, batch_id)
                for at, actor_id, cli, selection, batch_id in rows.all()
                if created is None or created <= at
            ]
        return sorted(found, key=lambda x: x.at)
    with_ids = await session.execute(
        select(*columns, ExportAudit.request_ids)
        .where(spans)
        .order_by(ExportAudit.at, ExportAudit.id)
    )
    for at, actor_id, cli, selection, batch_id, ids in with_ids.all():
        for request_id, created in requests.items():
            if holds(ids, request_id) and (created is None or created <= at):
                found.append(ExportSeen(request_id, at, actor_id, cli, selection, batch_id))
    return found
