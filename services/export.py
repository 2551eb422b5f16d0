"""Export of approved requests in the order's request form (XLSX and CSV), export batches,
and the access-granted step.

Built for 100,000 requests without stalling the bot (the issue "Admin work at 100,000
requests"): the rows are streamed off the event loop (db/offloop.py) into both files on a worker
thread, and the files go to disk, not into memory. The files are built *before* anything is
marked: should building fail, nothing was marked and nothing is lost. Marking and the event log
are written in short transactions of `WRITE_CHUNK` requests, so SQLite's single write lock is
never held for long.

The XLSX writer is rustpy-xlsxwriter (bindings to rust_xlsxwriter, by the author of
XlsxWriter): see README, "Export for the federal operator", for why.
"""

from __future__ import annotations

import asyncio
import csv
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import rustpy_xlsxwriter as xlsx
from sqlalchemy import Select, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.database import Database
from db.models import AccessRequest, ExportBatch, RequestEvent, utcnow
from db.offloop import consume_off_loop
from services.requests import Status, transition
from services.sheet_layout import cached_lines, row_height, wrapped_lines

# The order's request form, verbatim and in order (appendix to order No 922).
COLUMNS = (
    "№ п/п",
    "СНИЛС",
    "Фамилия Имя Отчество",
    "Адрес электронной почты (должен быть уникальным для каждого пользователя)",
    "Субъект РФ",
    "Полное наименование медицинской организации",
    "Краткое наименование медицинской организации",
    "Наименование компонента ВИМИС, к которому необходимо предоставить доступ",
    "Наименование роли, которую необходимо присвоить (согласно матрице ролей)",
)
# Widths (characters) chosen so the nine columns fit an A4 landscape page at fit-to-width.
WIDTHS = (6, 16, 28, 28, 16, 44, 26, 20, 24)
EXPORTED_STATUSES = (Status.APPROVED.value, Status.EXPORTED.value, Status.ACCESS_GRANTED.value)
LOCAL_TZ = ZoneInfo("Europe/Moscow")
SHEET_TITLE = "Заявка ВИМИС ОНКО"
HEADER_HEIGHT = 75.0  # the header's height at least (five lines)
# Requests marked (or logged) per write transaction: a few milliseconds of SQLite's lock each.
WRITE_CHUNK = 500
# Columns whose values repeat from row to row (region, organisation, component, role): kept
# once in memory, and laid out once per value.
REPEATING = (4, 5, 6, 7, 8)
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


def header_height() -> float:
    lines = max(wrapped_lines(c, w, bold=True) for c, w in zip(COLUMNS, WIDTHS, strict=True))
    return max(HEADER_HEIGHT, row_height(lines))


def line_count(values: Sequence[Any]) -> int:
    """Lines of the row's tallest wrapped cell."""
    most = max(wrapped_lines(values[column], WIDTHS[column]) for column in (1, 2, 3))
    for column in REPEATING:
        most = max(most, cached_lines(values[column], WIDTHS[column]))
    return most


def _formats() -> tuple[Any, list[Any]]:
    header = xlsx.Format().set_bold().set_text_wrap().set_align("center").set_align("top")
    number = xlsx.Format().set_text_wrap().set_align("top")
    # Text: never a formula or a number, whatever it starts with; SNILS keeps its zeros.
    text = xlsx.Format().set_text_wrap().set_align("top").set_num_format("@")
    return header, [number] + [text] * (len(COLUMNS) - 1)


def write_files(rows: Iterable[Sequence[Any]], directory: Path, stem: str) -> ExportFiles:
    """Both files from (request id, eight columns) rows. One pass writes the CSV, lays out
    each row and keeps its values (repeated ones shared); then the XLSX is written from them,
    each row as tall as its tallest wrapped cell. Runs on a worker thread."""
    files = ExportFiles(directory / f"{stem}.xlsx", directory / f"{stem}.csv")
    kept: list[list[Any]] = []
    heights: dict[int, float] = {0: header_height()}
    shared: dict[str, str] = {}
    with files.csv.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for number, row in enumerate(rows, start=1):
            files.request_ids.append(row[0])
            values = form_row(number, row)
            for column in REPEATING:
                values[column] = shared.setdefault(values[column], values[column])
            writer.writerow([as_text(v) if isinstance(v, str) else v for v in values])
            lines = line_count(values)
            if lines > 1:
                heights[number] = row_height(lines)
            kept.append(values)
    if not kept:
        return files
    header, formats = _formats()

    def records() -> Iterator[dict[str, Any]]:
        # A generator, not a list: the writer calls back into Python for every row, so the
        # interpreter can hand the GIL to the event loop's thread in between.
        for values in kept:
            yield dict(zip(COLUMNS, values, strict=True))

    xlsx.write_worksheet(
        records(),
        str(files.xlsx),
        sheet_name=SHEET_TITLE,
        freeze_row=1,
        column_widths=list(WIDTHS),
        column_formats=formats,
        header_format=header,
        row_heights=heights,
        page_setup={
            "landscape": True,
            "paper_size": 9,  # A4
            "fit_to_pages": (1, 0),  # one page wide, as many tall as needed
            "repeat_rows": 0,  # the header on every printed page
            "margins": {"left": 0.4, "right": 0.4, "top": 0.5, "bottom": 0.5},
        },
    )
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


def new_query() -> Select[Any]:
    """Approved requests not exported before."""
    return (
        select(*ROW_COLUMNS)
        .where(
            AccessRequest.status == Status.APPROVED.value,
            AccessRequest.export_batch_id.is_(None),
            AccessRequest.erased_at.is_(None),
        )
        .order_by(AccessRequest.id)
    )


def again_query(
    *, batch_id: int | None = None, since: date | None = None, until: date | None = None
) -> Select[Any]:
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


async def build(db: Database, query: Select[Any], directory: Path, stem: str) -> ExportFiles:
    """The files of `query`'s rows, read and written off the event loop."""
    return await consume_off_loop(db, query, lambda rows: write_files(rows, directory, stem))


# --- marking ------------------------------------------------------------------------------------


def _chunks(ids: Sequence[int], size: int = WRITE_CHUNK) -> Iterator[Sequence[int]]:
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
    marked = sorted((int(i), t) for i, t in result.all())
    if marked:
        await session.execute(
            insert(RequestEvent),
            [
                {
                    "request_id": request_id,
                    "action": "exported",
                    "actor_id": actor_id,
                    "from_status": Status.APPROVED.value,
                    "to_status": Status.EXPORTED.value,
                    "details": {"reason": None, "batch": batch_id},
                    "at": now,
                }
                for request_id, _ in marked
            ],
        )
    return marked


async def mark_batch(
    db: Database, actor_id: int | None, request_ids: Sequence[int]
) -> tuple[int | None, list[tuple[int, int | None]]]:
    """A new batch of these requests, marked `WRITE_CHUNK` at a time; (None, []) when none of
    them could be marked any more."""
    batch_id: int | None = None
    marked: list[tuple[int, int | None]] = []
    for chunk in _chunks(request_ids):
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
        marked += done
        await asyncio.sleep(0)  # other updates run between two transactions
    if batch_id is not None and not marked:
        async with db.write() as session:
            empty = await session.get(ExportBatch, batch_id)
            if empty is not None:
                await session.delete(empty)
        return None, []
    return batch_id, marked


async def log_reexport(
    db: Database, request_ids: Sequence[int], actor_id: int | None, how: str
) -> None:
    """A `reexported` event per request, `WRITE_CHUNK` per transaction."""
    now = utcnow()
    for chunk in _chunks(request_ids):
        async with db.write() as session:
            await session.execute(
                insert(RequestEvent),
                [
                    {
                        "request_id": request_id,
                        "action": "reexported",
                        "actor_id": actor_id,
                        "details": {"selection": how},
                        "at": now,
                    }
                    for request_id in chunk
                ],
            )
        await asyncio.sleep(0)


async def run_new(db: Database, actor_id: int | None, directory: Path, stem: str) -> Export:
    """`/export`: build the files of the approved requests not exported before, then mark them
    in a new batch. A failure while building leaves everything as it was. Should a request
    change meanwhile (a withdrawal), the files are built again from what the batch holds."""
    files = await build(db, new_query(), directory, stem)
    if not files.count:
        return Export(None, None)
    batch_id, marked = await mark_batch(db, actor_id, files.request_ids)
    if batch_id is None:
        return Export(None, None)
    if len(marked) != files.count:
        files = await build(db, again_query(batch_id=batch_id), directory, stem)
    return Export(batch_id, files, marked)


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
) -> Export:
    """`/export all|N|dates`: the files again, changing nothing; each request in them gets a
    `reexported` event once the files exist."""
    files = await build(db, again_query(batch_id=batch_id, since=since, until=until), directory, stem)
    if not files.count:
        return Export(None, None)
    await log_reexport(db, files.request_ids, actor_id, how)
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
