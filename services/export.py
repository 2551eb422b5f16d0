"""Export of approved requests in the order's request form (XLSX and CSV), export batches,
and the access-granted step.

Built for 100,000 requests without stalling the bot (the issue "Admin work at 100,000
requests"): the rows are streamed off the event loop (db/offloop.py) into both files on a worker
thread, and the files go to disk, not into memory. The files are built *before* anything is
marked: should building fail, nothing was marked and nothing is lost. Marking and the event log
are written in short transactions of `WRITE_CHUNK` requests, so SQLite's single write lock is
never held for long.

The XLSX sheet and its layout: services/form_xlsx.py.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, BigInteger, String, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, aliased

from db.database import Database
from db.models import AccessRequest, ExportBatch, RequestEvent, UtcDateTime, utcnow
from db.offloop import Query, chunks_off_loop, read_off_loop
from services import outbox
from services.form_xlsx import COLUMNS, Sheet, XlsxProcess
from services.requests import HOLDING_STATUSES, Status, transition

EXPORTED_STATUSES = (Status.APPROVED.value, Status.EXPORTED.value, Status.ACCESS_GRANTED.value)
LOCAL_TZ = ZoneInfo("Europe/Moscow")
# Requests logged per write transaction (inserts only), and marked per write transaction (an
# UPDATE that touches six indexes per row): milliseconds of SQLite's lock each.
WRITE_CHUNK = 1000
MARK_CHUNK = 100
# Between two such transactions of another process (the command line beside the bot): time
# for the bot's waiting writes, which poll for the lock every 20 ms at most.
PAUSE_BESIDE_BOT = 0.03
# Rows read, written to the CSV and sent to the XLSX process at a time (an export of fewer is
# written on this thread): small enough that no single step holds the interpreter for long.
CHUNK = 250
# What a row of the form is read from: the request's number, then the eight text columns.
ROW_COLUMNS = (
    AccessRequest.id,
    AccessRequest.snils,
    AccessRequest.full_name,
    AccessRequest.email,
    AccessRequest.region,
    AccessRequest.org_full_name,
    AccessRequest.org_short_name,
    AccessRequest.component,
    AccessRequest.role,
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMULA_FIRST = frozenset("".join(FORMULA_START))


@dataclass
class ExportFiles:
    """The form as XLSX and CSV on disk, and the requests in it, in order."""

    xlsx: Path
    csv: Path
    request_ids: list[int] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.request_ids)


@dataclass
class Export:
    """What an export made: the files (None when there was nothing to export) and the batch
    when new requests were marked (None for a re-export, which changes nothing but the event
    log). `marked` holds (request id, Telegram id) of the requests moved to «exported»."""

    batch_id: int | None
    files: ExportFiles | None
    marked: list[tuple[int, int | None]] = field(default_factory=list)
    # Approved requests left out of a new batch: their address is another person's too.
    held_back: int = 0

    @property
    def count(self) -> int:
        return self.files.count if self.files else 0


def as_text(value: str) -> str:
    """A value typed by a person must not run as a formula when the file is opened
    (organisation names are typed by hand): a leading apostrophe keeps it text in a CSV."""
    return "'" + value if value.startswith(FORMULA_START) else value


def form_row(number: int, row: Sequence[Any]) -> list[Any]:
    """A row of the form from (request id, the eight columns): № from 1, no role → empty."""
    return [number, *row[1:8], row[8] or ""]


def _csv_rows(chunk: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """The chunk's rows for the CSV: typed text that would run as a formula made text."""
    rows = []
    first = FORMULA_FIRST
    for values in chunk:
        if any(v and v[0] in first for v in values[1:]):  # after №, all text
            values = [as_text(v) if isinstance(v, str) else v for v in values]
        rows.append(list(values))
    return rows


# A form row as the database makes it (build): the nine cells of the form, then the request id.
_CELLS = itemgetter(slice(0, len(COLUMNS)))
_ID = itemgetter(len(COLUMNS))
# A field of the CSV that starts like a formula: the first field is always the number, so such
# a field follows a separator (and, when quoted, a quote). A chunk with none of these is
# written as it is; one with a match (rare) goes through `_csv_rows`.
_FORMULA_FIELD = re.compile(r';"?[=+\-@\t\r]')


def write_files(
    rows: Iterable[Sequence[Any]], directory: Path, stem: str, *, process_after: int = CHUNK
) -> ExportFiles:
    """Both files from (request id, eight columns) rows (see `write_form`)."""
    source = iter(rows)

    def chunks() -> Iterator[list[tuple[Any, ...]]]:
        number = 0
        while part := list(islice(source, CHUNK)):
            yield [(number + i, *row[1:8], row[8] or "", row[0]) for i, row in enumerate(part, 1)]
            number += len(part)

    return write_form(chunks(), directory, stem, process_after=process_after)


def write_form(
    chunks: Iterable[list[tuple[Any, ...]]],
    directory: Path,
    stem: str,
    *,
    process_after: int = CHUNK,
) -> ExportFiles:
    """Both files from chunks of form rows (№, the eight cells, request id), in one pass: the
    CSV here, a chunk at a time with csv's C writer, the XLSX in a process of its own once
    there are more than `process_after` rows (form_xlsx.py). Runs on a worker thread."""
    files = ExportFiles(directory / f"{stem}.xlsx", directory / f"{stem}.csv")
    process: XlsxProcess | None = None
    held: list[tuple[Any, ...]] = []  # rows not yet sent (until the process is worth starting)
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    try:
        with files.csv.open("wb") as out:
            out.write(codecs.BOM_UTF8)
            for chunk in chunks:
                files.request_ids.extend(map(_ID, chunk))
                cells = list(map(_CELLS, chunk))
                start = text.tell()
                writer.writerows(cells)
                if _FORMULA_FIELD.search(text.getvalue(), start):
                    text.seek(start)
                    text.truncate()
                    writer.writerows(_csv_rows(cells))
                out.write(text.getvalue().encode("utf-8"))
                text.seek(0)
                text.truncate()
                held += cells
                if process is None and len(held) < process_after:
                    continue
                process = process or XlsxProcess(str(files.xlsx))
                process.send(held)
                held = []
            out.write(text.getvalue().encode("utf-8"))
        if process is None:
            sheet = Sheet()
            sheet.add(held)
            sheet.write(str(files.xlsx))
        else:
            if held:
                process.send(held)
            process.finish()
            process = None
    finally:
        if process is not None:  # building failed here: stop the process too
            process.abandon()
    return files


def _as_rows(requests: Sequence[AccessRequest]) -> list[tuple[Any, ...]]:
    return [tuple(getattr(r, c.key) for c in ROW_COLUMNS) for r in requests]


def to_xlsx(requests: Sequence[AccessRequest]) -> bytes:
    """The form as XLSX bytes, for a few requests already in memory."""
    with tempfile.TemporaryDirectory(prefix="vimis-export-") as tmp:
        return write_files(_as_rows(requests), Path(tmp), "form").xlsx.read_bytes()


def to_csv(requests: Sequence[AccessRequest]) -> bytes:
    """UTF-8 with a BOM and `;`: what Excel in a Russian locale opens correctly."""
    with tempfile.TemporaryDirectory(prefix="vimis-export-") as tmp:
        return write_files(_as_rows(requests), Path(tmp), "form").csv.read_bytes()


# --- which requests -----------------------------------------------------------------------------


def _shares_an_address() -> Any:
    """Another person's approved, exported or granted request holds this request's address."""
    other = aliased(AccessRequest)
    return (
        select(other.id)
        .where(
            func.lower(other.email) == func.lower(AccessRequest.email),
            other.snils != AccessRequest.snils,
            other.status.in_(HOLDING_STATUSES),
            other.erased_at.is_(None),
        )
        .exists()
    )


_NEW = (
    AccessRequest.status == Status.APPROVED.value,
    AccessRequest.export_batch_id.is_(None),
    AccessRequest.erased_at.is_(None),
)


def new_query() -> Query:
    """Approved requests not exported before. One address, one person: a request whose
    address another person's approved, exported or granted request also holds stays approved
    and out of the file until an admin resolves it (approval refuses such pairs; this catches
    requests approved before that rule)."""
    return select(*ROW_COLUMNS).where(*_NEW, ~_shares_an_address()).order_by(AccessRequest.id)


async def held_back(db: Database) -> int:
    """Approved requests `new_query` leaves out, their address being another person's too."""
    query = select(func.count()).select_from(AccessRequest).where(*_NEW, _shares_an_address())

    def count(session: Session) -> int:
        return int(session.scalar(query) or 0)

    return await read_off_loop(db, count)


def again_query(
    *, batch_id: int | None = None, since: date | None = None, until: date | None = None
) -> Query:
    """Requests to export again, changing nothing: a batch, a date range of approval, or all
    approved ones. A request erased on consent withdrawal has nothing left to send."""
    query = select(*ROW_COLUMNS).where(
        AccessRequest.status.in_(EXPORTED_STATUSES), AccessRequest.erased_at.is_(None)
    )
    if batch_id is not None:
        query = query.where(AccessRequest.export_batch_id == batch_id)
    if since is not None:
        start = datetime.combine(since, time.min, LOCAL_TZ)
        query = query.where(AccessRequest.decided_at >= start)
    if until is not None:
        end = datetime.combine(until + timedelta(days=1), time.min, LOCAL_TZ)
        query = query.where(AccessRequest.decided_at < end)
    return query.order_by(AccessRequest.id)


def form_query(query: Query) -> Query:
    """`query` (ordered by id) as the form's rows, made by the database: №, the eight cells
    (no role → empty), then the request id. Text and integers, as the driver returns them."""
    return query.with_only_columns(
        func.row_number().over(order_by=AccessRequest.id),
        *ROW_COLUMNS[1:8],
        func.coalesce(AccessRequest.role, ""),
        AccessRequest.id,
    )


async def build(db: Database, query: Query, directory: Path, stem: str) -> ExportFiles:
    """The files of `query`'s rows, read and written off the event loop."""
    return await chunks_off_loop(
        db, form_query(query), lambda chunks: write_form(chunks, directory, stem), chunk=CHUNK
    )


# --- marking ------------------------------------------------------------------------------------


def _chunks(ids: Sequence[int], size: int | None = None) -> Iterator[Sequence[int]]:
    size = size or WRITE_CHUNK
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


async def export_new(
    session: AsyncSession, actor_id: int | None, batch_id: int, request_ids: Sequence[int]
) -> list[tuple[int, int | None]]:
    """Mark these approved requests exported in the batch (an event each); a request whose
    status changed meanwhile is left out. One UPDATE and one INSERT: call it with at most
    `WRITE_CHUNK` ids, in a transaction of its own. Returns (id, Telegram id) of those marked."""
    now = utcnow()
    result = await session.execute(
        update(AccessRequest)
        .where(
            AccessRequest.id.in_(request_ids),
            AccessRequest.status == Status.APPROVED.value,
            AccessRequest.export_batch_id.is_(None),
            AccessRequest.erased_at.is_(None),
        )
        .values(status=Status.EXPORTED.value, updated_at=now, export_batch_id=batch_id)
        .returning(AccessRequest.id, AccessRequest.telegram_id)
        .execution_options(synchronize_session=False)
    )
    marked: list[tuple[int, int | None]] = sorted((int(i), t) for i, t in result.all())
    if marked:
        await _log_events(
            session,
            [request_id for request_id, _ in marked],
            "exported",
            actor_id,
            {"reason": None, "batch": batch_id},
            now,
            (Status.APPROVED.value, Status.EXPORTED.value),
        )
    return marked


async def _log_events(
    session: AsyncSession,
    request_ids: Sequence[int],
    action: str,
    actor_id: int | None,
    details: dict[str, Any],
    at: datetime,
    statuses: tuple[str | None, str | None] = (None, None),
) -> None:
    """One event per request, as one INSERT … SELECT: the database makes the rows."""
    await session.execute(
        insert(RequestEvent).from_select(
            ["request_id", "action", "actor_id", "from_status", "to_status", "details", "at"],
            select(
                AccessRequest.id,
                literal(action, String()),
                literal(actor_id, BigInteger()),
                literal(statuses[0], String()),
                literal(statuses[1], String()),
                literal(details, JSON()),
                literal(at, UtcDateTime()),
            ).where(AccessRequest.id.in_(request_ids)),
        )
    )


async def mark_batch(
    db: Database, actor_id: int | None, request_ids: Sequence[int], pause: float = 0.0
) -> tuple[int | None, list[tuple[int, int | None]]]:
    """A new batch of these requests, marked `MARK_CHUNK` at a time, `pause` seconds apart;
    (None, []) when none of them could be marked any more. What follows a status change (the
    admins' cards, the support-topic headers) is enqueued in each chunk's own transaction."""
    batch_id: int | None = None
    marked: list[tuple[int, int | None]] = []
    for chunk in _chunks(request_ids, MARK_CHUNK):
        async with db.write() as session:
            if batch_id is None:
                batch = ExportBatch(created_by=actor_id, created_at=utcnow(), size=0)
                session.add(batch)
                await session.flush()
                batch_id = batch.id
            done = await export_new(session, actor_id, batch_id, chunk)
            if done:
                await session.execute(
                    update(ExportBatch)
                    .where(ExportBatch.id == batch_id)
                    .values(size=ExportBatch.size + len(done))
                )
                await outbox.follow_requests(session, done)
        marked += done
        await asyncio.sleep(pause)  # others write between two transactions
    if batch_id is not None and not marked:
        async with db.write() as session:
            empty = await session.get(ExportBatch, batch_id)
            if empty is not None:
                await session.delete(empty)
        return None, []
    return batch_id, marked


async def log_reexport(
    db: Database, request_ids: Sequence[int], actor_id: int | None, how: str, pause: float = 0.0
) -> None:
    """A `reexported` event per request, `WRITE_CHUNK` per transaction, `pause` seconds
    apart."""
    now = utcnow()
    for chunk in _chunks(request_ids):
        async with db.write() as session:
            await _log_events(session, chunk, "reexported", actor_id, {"selection": how}, now)
        await asyncio.sleep(pause)


async def run_new(
    db: Database, actor_id: int | None, directory: Path, stem: str, pause: float = 0.0
) -> Export:
    """`/export`: build the files of the approved requests not exported before, then mark them
    in a new batch. A failure while building leaves everything as it was. Should a request
    change meanwhile (a withdrawal), the files are built again from what the batch holds."""
    files = await build(db, new_query(), directory, stem)
    kept = await held_back(db)
    if not files.count:
        return Export(None, None, held_back=kept)
    batch_id, marked = await mark_batch(db, actor_id, files.request_ids, pause)
    if batch_id is None:
        return Export(None, None, held_back=kept)
    if len(marked) != files.count:
        files = await build(db, again_query(batch_id=batch_id), directory, stem)
    return Export(batch_id, files, marked, held_back=kept)


async def run_again(
    db: Database,
    actor_id: int | None,
    directory: Path,
    stem: str,
    how: str,
    *,
    batch_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
    pause: float = 0.0,
) -> Export:
    """`/export all|N|dates`: the files again, changing nothing; each request in them gets a
    `reexported` event once the files exist."""
    files = await build(
        db, again_query(batch_id=batch_id, since=since, until=until), directory, stem
    )
    if not files.count:
        return Export(None, None)
    await log_reexport(db, files.request_ids, actor_id, how, pause)
    return Export(None, files)


# --- small selections, access granted ------------------------------------------------------------


async def select_again(
    session: AsyncSession,
    *,
    batch_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[AccessRequest]:
    """Requests to export again, changing nothing: a batch, a date range of approval, or all
    approved ones."""
    # A request erased on consent withdrawal has nothing left to send.
    query = select(AccessRequest).where(
        AccessRequest.status.in_(EXPORTED_STATUSES), AccessRequest.erased_at.is_(None)
    )
    if batch_id is not None:
        query = query.where(AccessRequest.export_batch_id == batch_id)
    if since is not None:
        start = datetime.combine(since, time.min, LOCAL_TZ)
        query = query.where(AccessRequest.decided_at >= start)
    if until is not None:
        end = datetime.combine(until + timedelta(days=1), time.min, LOCAL_TZ)
        query = query.where(AccessRequest.decided_at < end)
    return list(await session.scalars(query.order_by(AccessRequest.id)))


async def grant(
    session: AsyncSession, request_ids: Sequence[int], actor_id: int | None
) -> list[AccessRequest]:
    """Mark exported requests access_granted; returns the ones this call changed. A person who
    withdrew consent is neither marked nor notified."""
    granted = []
    for request_id in dict.fromkeys(request_ids):
        current = await session.get(AccessRequest, request_id)
        if current is None or current.erased_at is not None:
            continue
        if await transition(
            session,
            request_id,
            Status.EXPORTED,
            Status.ACCESS_GRANTED,
            actor_id=actor_id,
            action="access_granted",
        ):
            request = await session.get(AccessRequest, request_id)
            if request is not None:
                await session.refresh(request)
                granted.append(request)
    return granted


async def batch_members(session: AsyncSession, batch_id: int) -> list[int]:
    rows = await session.scalars(
        select(AccessRequest.id).where(AccessRequest.export_batch_id == batch_id)
    )
    return list(rows)
