"""Export of approved requests in the order's request form (XLSX and CSV): which requests go,
the files built off the event loop, the numbered batches they are marked in, re-exports, and
the access-granted step.

Built so that an export of 100,000 requests does not stall the bot: the rows are streamed off
the event loop (db/offloop.py) into both files on a worker thread, or read and written by a
child process (child.py) for a large export, and the files go to disk, not into memory. The
files are built *before* anything is marked: should building fail, nothing was marked and
nothing is lost. Marking (with each request's `exported` event) is written in short
transactions of `MARK_CHUNK` requests, so SQLite's single write lock is never held for long;
the export itself, new batch or re-export, is one `export_audit` row (services/audit.py).

The files from the rows: files.py; the sheet: xlsx.py, stream.py, columns.py.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, aliased

from db.database import Database
from db.models import AccessRequest, ExportBatch, utcnow
from db.offloop import Query, chunks_off_loop, read_off_loop
from services import audit, backup, event_log, outbox
from services.child_process import module_command, module_env
from services.export.files import CHUNK, BuildSpec, ExportFiles, read_ids, write_files, write_form
from services.export.xlsx import XlsxError
from services.requests import HOLDING_STATUSES, Status, transition

log = logging.getLogger(__name__)

EXPORTED_STATUSES = (Status.APPROVED.value, Status.EXPORTED.value, Status.ACCESS_GRANTED.value)
LOCAL_TZ = ZoneInfo("Europe/Moscow")
# Requests marked per write transaction (an UPDATE that touches six indexes per row, and an
# event each): milliseconds of SQLite's lock each.
MARK_CHUNK = 50
# Between two such transactions of another process (the command line beside the bot): time
# for the bot's waiting writes, which poll for the lock every 20 ms at most.
PAUSE_BESIDE_BOT = 0.03
# An export of more rows is built in a child process (child.py), not on a thread of the
# bot's process: however short each step, a worker thread busy for seconds takes the
# interpreter from the event loop again and again.
CHILD_AFTER = 1000
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


@dataclass
class Export:
    """What an export made: the files (None when there was nothing to export) and the batch
    when new requests were marked (None for a re-export, which changes nothing but adds its
    audit row). `marked` holds (request id, Telegram id) of the requests moved to
    «exported»."""

    batch_id: int | None
    files: ExportFiles | None
    marked: list[tuple[int, int | None]] = field(default_factory=list)
    # Approved requests left out of a new batch: their address is another person's too.
    held_back: int = 0

    @property
    def count(self) -> int:
        return self.files.count if self.files else 0


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
    """`query` (ordered by id) as the form's rows, made by the database: the eight text cells
    (no role → empty), then the request id. Text and integers, as the driver returns them."""
    return query.with_only_columns(
        *ROW_COLUMNS[1:8],
        func.coalesce(AccessRequest.role, ""),
        AccessRequest.id,
    )


async def build(db: Database, query: Query, directory: Path, stem: str) -> ExportFiles:
    """The files of `query`'s rows, read and written off the event loop: up to `CHILD_AFTER`
    rows on a worker thread, more in a child process (child.py) that reads them itself."""
    form = form_query(query)
    probe = select(func.count()).select_from(query.limit(CHILD_AFTER + 1).subquery())

    def count(session: Session) -> int:
        return int(session.scalar(probe) or 0)

    if await read_off_loop(db, count) > CHILD_AFTER:
        return await _build_in_child(db, form, directory, stem)
    return await chunks_off_loop(
        db, form, lambda chunks: write_form(chunks, directory, stem), chunk=CHUNK
    )


def _child_spec(db: Database, form: Query, directory: Path, stem: str) -> BuildSpec:
    """The query compiled for the database, its parameters processed as SQLAlchemy would."""
    dialect = db.write_engine.dialect
    compiled = form.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    values = compiled.construct_params()
    params = []
    for name in compiled.positiontup or ():
        bind = compiled.binds.get(name)
        processor = bind.type.bind_processor(dialect) if bind is not None else None
        params.append(processor(values[name]) if processor else values[name])
    if db.is_sqlite:
        database = str(db.url.database)
    else:
        database = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return BuildSpec(
        dialect=dialect.name,
        database=database,
        sql=str(compiled),
        params=params,
        xlsx=str(directory / f"{stem}.xlsx"),
        csv=str(directory / f"{stem}.csv"),
        ids=str(directory / f"{stem}.ids"),
        chunk=CHUNK,
    )


async def _build_in_child(db: Database, form: Query, directory: Path, stem: str) -> ExportFiles:
    spec = _child_spec(db, form, directory, stem)
    process = await asyncio.create_subprocess_exec(
        *module_command("services.export.child", "build"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=module_env(),
    )
    try:
        _, err = await process.communicate(pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL))
    except BaseException:  # cancelled: the files are not wanted any more
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    if process.returncode != 0:
        raise XlsxError(err.decode(errors="replace").strip()[-500:] or "no message")
    return ExportFiles(Path(spec.xlsx), Path(spec.csv), read_ids(Path(spec.ids)))


# --- marking ------------------------------------------------------------------------------------


def _chunks(ids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


async def export_new(
    session: AsyncSession,
    actor_id: int | None,
    batch_id: int,
    request_ids: Sequence[int],
) -> list[tuple[int, int | None]]:
    """Mark these approved requests exported in the batch (an `exported` event each: the
    change of status); a request whose status changed meanwhile is left out. One UPDATE and
    one INSERT: call it with at most `MARK_CHUNK` ids, in a transaction of its own. Returns
    (id, Telegram id) of those marked. That the files showed the requests to whoever made
    them is the export's audit row, written once the files are final."""
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
        .returning(AccessRequest.id, AccessRequest.account_id)
        .execution_options(synchronize_session=False)
    )
    marked: list[tuple[int, int | None]] = sorted((int(i), t) for i, t in result.all())
    if marked:
        await event_log.log_events(
            session,
            [request_id for request_id, _ in marked],
            "exported",
            actor_id,
            {"reason": None, "batch": batch_id},
            now,
            (Status.APPROVED.value, Status.EXPORTED.value),
        )
    return marked


async def mark_batch(
    db: Database,
    actor_id: int | None,
    request_ids: Sequence[int],
    pause: float = 0.0,
    journal: str | None = None,
) -> tuple[int | None, list[tuple[int, int | None]]]:
    """A new batch of these requests, marked `MARK_CHUNK` at a time, `pause` seconds apart;
    (None, []) when none of them could be marked any more. What follows a status change (the
    admins' cards, the support-topic headers) is enqueued in each chunk's own transaction.
    Each chunk, once committed, is appended to the `journal` (services/backup.py): a restored
    backup learns from it what went to the federal operator after it was taken."""
    batch_id: int | None = None
    batch_at = utcnow()
    marked: list[tuple[int, int | None]] = []
    for chunk in _chunks(request_ids, MARK_CHUNK):
        async with db.write() as session:
            if batch_id is None:
                batch = ExportBatch(created_by=actor_id, created_at=batch_at, size=0)
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
        if done:
            await _journal(journal, batch_id, batch_at, [i for i, _ in done])
        marked += done
        await asyncio.sleep(pause)  # others write between two transactions
    if batch_id is not None and not marked:
        async with db.write() as session:
            empty = await session.get(ExportBatch, batch_id)
            if empty is not None:
                await session.delete(empty)
        return None, []
    return batch_id, marked


async def _journal(path: str | None, batch_id: int, at: datetime, ids: list[int]) -> None:
    """Best effort, as for erasures: a journal that cannot be written is logged, the export
    stands (and the database keeps the batch)."""
    try:
        await asyncio.to_thread(
            backup.journal_append, path, [backup.ExportRecord(at, batch_id, ids)]
        )
    except OSError as exc:
        log.error("export journal not written: %s", type(exc).__name__)


async def record(
    db: Database,
    files: ExportFiles,
    actor_id: int | None,
    *,
    cli: bool,
    selection: str,
    batch_id: int | None = None,
    journal: str | None = None,
) -> None:
    """The export's audit row (services/audit.py), once its files are final: one short
    transaction whatever the number of rows, then a line in the `journal`, so a restored
    backup gets it back (services/backup.py)."""
    dialect = db.write_engine.dialect.name

    def prepare() -> tuple[dict[str, str], audit.StoredIds]:
        # Hashing two files and sorting and packing 100,000 ids: tens of milliseconds, on a
        # worker thread rather than the loop.
        digests = {"xlsx": audit.file_digest(files.xlsx), "csv": audit.file_digest(files.csv)}
        return digests, audit.stored_ids(files.request_ids, dialect)

    digests, stored = await asyncio.to_thread(prepare)
    at = utcnow()
    async with db.write() as session:
        await audit.record_export(
            session,
            stored.ids,
            actor_id=actor_id,
            cli=cli,
            selection=selection,
            batch_id=batch_id,
            files=digests,
            at=at,
            stored=stored,
        )
    line = backup.ExportAuditRecord(at, actor_id, cli, selection, batch_id, digests, stored.ids)
    try:
        await asyncio.to_thread(backup.journal_append, journal, [line])
    except OSError as exc:
        log.error("export journal not written: %s", type(exc).__name__)


async def run_new(
    db: Database,
    actor_id: int | None,
    directory: Path,
    stem: str,
    pause: float = 0.0,
    cli: bool = False,
    journal: str | None = None,
) -> Export:
    """`/export`: build the files of the approved requests not exported before, then mark them
    in a new batch (journaled in `journal`, ERASURE_JOURNAL), then the export's audit row. A
    failure while building leaves everything as it was. Should a request change meanwhile (a
    withdrawal), the files are built again from what the batch holds. `cli`: made by
    `python -m bot export` on the server, not by an admin in chat."""
    files = await build(db, new_query(), directory, stem)
    kept = await held_back(db)
    if not files.count:
        return Export(None, None, held_back=kept)
    batch_id, marked = await mark_batch(db, actor_id, files.request_ids, pause, journal)
    if batch_id is None:
        return Export(None, None, held_back=kept)
    if len(marked) != files.count or await _erased_in_batch(db, batch_id):
        files = await build(db, again_query(batch_id=batch_id), directory, stem)
    if files.count:
        await record(
            db,
            files,
            actor_id,
            cli=cli,
            selection=audit.NEW_BATCH,
            batch_id=batch_id,
            journal=journal,
        )
    return Export(batch_id, files, marked, held_back=kept)


async def _erased_in_batch(db: Database, batch_id: int) -> bool:
    """A request marked in an early chunk may be erased (a withdrawal) while later chunks are
    marked: the file built before must not carry that person to the federal operator."""
    async with db.read() as session:
        erased = await session.scalar(
            select(AccessRequest.id)
            .where(AccessRequest.export_batch_id == batch_id, AccessRequest.erased_at.is_not(None))
            .limit(1)
        )
    return erased is not None


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
    cli: bool = False,
    journal: str | None = None,
) -> Export:
    """`/export all|N|dates`: the files again, changing nothing but the export's one audit
    row (`how`: the selection as typed), written once the files exist."""
    files = await build(
        db, again_query(batch_id=batch_id, since=since, until=until), directory, stem
    )
    if not files.count:
        return Export(None, None)
    await record(db, files, actor_id, cli=cli, selection=how, journal=journal)
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


async def batch_exists(db: Database, batch_id: int) -> bool:
    """Whether export batch № `batch_id` was ever made (a re-export of one that was not is
    a mistyped number, not an empty batch)."""
    async with db.read() as session:
        found = await session.scalar(select(ExportBatch.id).where(ExportBatch.id == batch_id))
    return found is not None


async def batch_members(session: AsyncSession, batch_id: int) -> list[int]:
    rows = await session.scalars(
        select(AccessRequest.id).where(AccessRequest.export_batch_id == batch_id)
    )
    return list(rows)
