"""Backups of a running SQLite database, and erasures and exports applied again after a
restore.

A backup is a copy of the database at one moment: it holds personal data, and it holds the
data of everyone who withdrew consent or whose retention term ran out *after* that moment.
Every erasure is therefore also written to the erasure journal (one JSON line: when, whose
account, which request ids, by which rule; no SNILS, name or e-mail), which lives apart
from the database and its backups; `reapply` replays the journal and the restored database's
own `erasures` rows, then the retention rule, onto a restored database.

Exports go into the same journal (when, the batch's number, its request ids): a backup
forgets the exports made after it, and its requests, approved again, would go to the federal
operator a second time with the next /export. `reapply` marks them exported again, in the
order the journal's lines happened (an export before a withdrawal keeps the request exported
and erased, as it was). Each export's audit row (services/audit.py: who, when, the selection,
the files' SHA-256, the ids) goes there too once written, new batch or re-export: `reapply`
puts back the rows the backup lacks, so the record of who received a person's data outlives
the restore.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from db.database import Database
from db.id_lists import pack_ids, unpack_ids
from db.models import AccessRequest, Consent, Erasure, ExportAudit, ExportBatch, utcnow
from db.repositories import EventRepository, RequestRepository
from services import consent, outbox, retention, support
from services.requests import Status

WITHDRAWAL = "withdrawal"


class NotSqlite(Exception):
    """The database is not SQLite: PostgreSQL is backed up with pg_dump."""


def sqlite_file(url: str) -> Path:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise NotSqlite(parsed.get_backend_name())
    if not parsed.database or parsed.database == ":memory:":
        raise NotSqlite("sqlite in memory")
    return Path(parsed.database)


def backup_sqlite(source: Path, out: Path) -> int:
    """A consistent copy of `source` (which the bot may be writing) in `out`, through SQLite's
    online backup API: one step, so the copy is the database at one moment (in WAL mode the
    writers go on meanwhile). Written beside `out` and renamed, readable by the owner only.
    Returns the number of requests in the copy."""
    if not source.is_file():
        raise FileNotFoundError(str(source))
    if out.resolve() == source.resolve():
        raise ValueError("the backup cannot overwrite the database")
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    # A plain connection (a read-only one cannot open a WAL database whose -shm file is
    # missing); the backup API only reads from it.
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")
            if dst.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise RuntimeError("the copy fails SQLite's quick_check")
            count = dst.execute("SELECT count(*) FROM access_requests").fetchone()[0]
        finally:
            dst.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    os.replace(partial, out)
    return int(count)


# --- the erasure journal ----------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    at: datetime
    account_id: int
    requests: list[int]
    rule: str  # withdrawal | retention
    # Retention: the status each request had ended in (granted, rejected, cancelled), which a
    # replay onto an older backup sets again. Lines written before it have none.
    ended: dict[int, str] = field(default_factory=dict)

    def line(self) -> str:
        data: dict[str, Any] = {
            "at": self.at.isoformat(),
            "account_id": self.account_id,
            "requests": self.requests,
            "rule": self.rule,
        }
        if self.ended:
            data["ended"] = {str(i): s for i, s in sorted(self.ended.items())}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def parse(cls, line: str) -> Record:
        data: dict[str, Any] = json.loads(line)
        return cls(
            datetime.fromisoformat(data["at"]),
            # Journals written before MAX came name the key "telegram_id".
            int(data["account_id"] if "account_id" in data else data["telegram_id"]),
            [int(i) for i in data.get("requests") or []],
            str(data.get("rule") or WITHDRAWAL),
            _ended(data.get("ended")),
        )


EXPORT = "export"  # an export journal line's rule


@dataclass(frozen=True)
class ExportRecord:
    """A batch marked exported (a chunk of it: one line per committed chunk, each with the
    batch's own time, which also tells a replayed batch from another of the same number).
    Ids only."""

    at: datetime
    batch_id: int
    requests: list[int]

    def line(self) -> str:
        data = {
            "at": self.at.isoformat(),
            "rule": EXPORT,
            "batch": self.batch_id,
            "requests": self.requests,
        }
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def parse(cls, line: str) -> ExportRecord:
        data: dict[str, Any] = json.loads(line)
        return cls(
            datetime.fromisoformat(data["at"]),
            int(data["batch"]),
            [int(i) for i in data.get("requests") or []],
        )


EXPORT_AUDIT = "export_audit"  # an export's audit row


@dataclass(frozen=True)
class ExportAuditRecord:
    """An export's audit row (db/models.py ExportAudit), ids packed as in SQLite's column
    (db/id_lists.py, base64): a re-export of 100,000 requests is a line of ≈ 130 KB, not
    ≈ 700 KB of JSON numbers."""

    at: datetime
    actor_id: int | None
    cli: bool
    selection: str
    batch_id: int | None
    files: dict[str, str] | None
    requests: list[int]

    def line(self) -> str:
        data = {
            "at": self.at.isoformat(),
            "rule": EXPORT_AUDIT,
            "actor": self.actor_id,
            "cli": self.cli,
            "selection": self.selection,
            "batch": self.batch_id,
            "files": self.files,
            "ids": base64.b64encode(pack_ids(self.requests)).decode("ascii"),
        }
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def parse(cls, line: str) -> ExportAuditRecord:
        data: dict[str, Any] = json.loads(line)
        actor = data.get("actor")
        batch = data.get("batch")
        return cls(
            datetime.fromisoformat(data["at"]),
            int(actor) if actor is not None else None,
            bool(data.get("cli")),
            str(data["selection"]),
            int(batch) if batch is not None else None,
            data.get("files"),
            unpack_ids(base64.b64decode(data["ids"], validate=True)),
        )


Line = Record | ExportRecord | ExportAuditRecord


def _ended(value: Any) -> dict[int, str]:
    if not isinstance(value, dict):
        return {}
    return {int(i): str(s) for i, s in value.items()}


def journal_append(path: str | None, records: Sequence[Line]) -> None:
    """Append the records (after the erasure committed). Best effort for the bot: a journal
    that cannot be written is logged by the caller, the erasure itself stands."""
    if not path or not records:
        return
    journal = Path(path)
    journal.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write("".join(r.line() + "\n" for r in records))
        out.flush()
        os.fsync(out.fileno())


_PARSERS: dict[str, Callable[[str], Line]] = {
    EXPORT: ExportRecord.parse,
    EXPORT_AUDIT: ExportAuditRecord.parse,
}


def _journal(path: str | None) -> list[Line]:
    if not path or not Path(path).is_file():
        return []
    records: list[Line] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            parse = _PARSERS.get(json.loads(line).get("rule"), Record.parse)
            records.append(parse(line))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # a line cut short by a crash while it was written: the rest still counts
    return records


def journal_read(path: str | None) -> list[Record]:
    """The journal's erasures."""
    return [r for r in _journal(path) if isinstance(r, Record)]


def journal_exports(path: str | None) -> list[ExportRecord]:
    """The journal's exports."""
    return [r for r in _journal(path) if isinstance(r, ExportRecord)]


async def recorded(db: Database) -> list[Record]:
    """The erasures the (restored) database itself recorded."""
    async with db.read() as session:
        rows = await session.scalars(select(Erasure).order_by(Erasure.id))
        return [
            Record(
                e.at,
                e.account_id,
                [int(i) for i in (e.details or {}).get("requests") or []],
                str((e.details or {}).get("rule") or WITHDRAWAL),
                _ended((e.details or {}).get("ended")),
            )
            for e in rows
        ]


# --- replay -------------------------------------------------------------------------------------


@dataclass
class Replay:
    records: int = 0
    erased: list[int] = field(default_factory=list)  # by the recorded erasures
    retention: list[int] = field(default_factory=list)  # by the retention rule, now
    exported: list[int] = field(default_factory=list)  # marked exported again
    audits: int = 0  # export audit rows put back


async def _replay_one(db: Database, record: Record) -> list[int]:
    """One recorded erasure, onto the database as it is. A request counts as the recorded
    one only if it existed then and was that person's: a request made after a restore may
    have got the same number."""
    async with db.write() as session:
        query = select(AccessRequest.id).where(
            AccessRequest.erased_at.is_(None),
            AccessRequest.created_at <= record.at,
            AccessRequest.account_id == record.account_id,
        )
        if record.rule != WITHDRAWAL:
            query = query.where(AccessRequest.id.in_(record.requests or [-1]))
        ids = list(await session.scalars(query))
        if record.rule == WITHDRAWAL:
            await session.execute(
                update(Consent)
                .where(
                    Consent.account_id == record.account_id,
                    Consent.withdrawn_at.is_(None),
                    Consent.at <= record.at,
                )
                .values(withdrawn_at=record.at)
            )
            result = await consent.withdraw_requests(session, record.account_id, ids, record.at)
            forgotten = await support.forget(session, record.account_id)
            # What the restored outbox still holds for or about the person goes, as it did.
            await outbox.forget_person(session, record.account_id)
            await outbox.follow_requests(session, [(i, None) for i in result.erased])
            consent.record_erasure(
                session,
                record.account_id,
                result,
                support_thread=forgotten.thread is not None,
                relayed_messages=forgotten.relayed,
                ratings=forgotten.ratings,
            )
            return result.erased
        now = utcnow()
        live = dict(
            (
                await session.execute(
                    select(AccessRequest.id, AccessRequest.status).where(
                        AccessRequest.id.in_(ids or [-1]),
                        AccessRequest.status.in_(retention.LIVE_STATUSES),
                    )
                )
            ).all()
        )
        erased = await consent.erase_requests(session, ids, actor_id=None, at=now, rule=record.rule)
        ended = await _end_as_recorded(session, record, erased, live, now)
        if erased:
            await support.forget_names(session, [record.account_id])
            await outbox.follow_requests(session, [(i, record.account_id) for i in erased])
            session.add(
                Erasure(
                    account_id=record.account_id,
                    at=now,
                    details={
                        "requests": erased,
                        "rule": record.rule,
                        "replayed": True,
                        "ended": {str(i): s for i, s in ended.items()},
                    },
                )
            )
        return erased


# A request the journal says was exported may be restored in any state before export: the
# backup was taken before it was approved, say. It went to the federal operator all the same.
BEFORE_EXPORT = (Status.SUBMITTED.value, Status.RETURNED.value, Status.APPROVED.value)


async def _replay_export(db: Database, record: ExportRecord) -> list[int]:
    """One exported chunk, onto the database as it is: its requests marked exported in the
    batch of the recorded number (created as it was, when the restored database lacks it; a
    number taken meanwhile by another batch gives a new one), with an `exported` event each.
    Only requests that existed then and are not erased or exported already count, so a
    replay twice, or a number reused after the restore, changes nothing."""
    async with db.write() as session:
        batch = await session.get(ExportBatch, record.batch_id)
        if batch is None:
            batch = ExportBatch(id=record.batch_id, created_by=None, created_at=record.at, size=0)
            session.add(batch)
            await session.flush()
            if not db.is_sqlite:  # PostgreSQL: the next batch's number follows this one
                await session.execute(
                    text(
                        "SELECT setval(pg_get_serial_sequence('export_batches', 'id'), "
                        "(SELECT max(id) FROM export_batches))"
                    )
                )
        elif batch.created_at != record.at:  # the number went to another batch meanwhile
            batch = ExportBatch(created_by=None, created_at=record.at, size=0)
            session.add(batch)
            await session.flush()
        found = (
            await session.execute(
                select(AccessRequest.id, AccessRequest.status, AccessRequest.account_id).where(
                    AccessRequest.id.in_(record.requests or [-1]),
                    AccessRequest.created_at <= record.at,
                    AccessRequest.erased_at.is_(None),
                    AccessRequest.export_batch_id.is_(None),
                    AccessRequest.status.in_(BEFORE_EXPORT),
                )
            )
        ).all()
        now = utcnow()
        marked: list[tuple[int, int | None]] = []
        events = EventRepository(session)
        for request_id, status, account_id in sorted(found):
            changed = await session.execute(
                update(AccessRequest)
                .where(AccessRequest.id == request_id, AccessRequest.status == status)
                .values(status=Status.EXPORTED.value, export_batch_id=batch.id, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if getattr(changed, "rowcount", 0) != 1:
                continue
            events.add(
                request_id,
                "exported",
                actor_id=None,
                from_status=status,
                to_status=Status.EXPORTED.value,
                details={"batch": batch.id, "replayed": True},
                at=now,
            )
            marked.append((request_id, account_id))
        if marked:
            await session.execute(
                update(ExportBatch)
                .where(ExportBatch.id == batch.id)
                .values(size=ExportBatch.size + len(marked))
            )
            await outbox.follow_requests(session, marked)
        return [request_id for request_id, _ in marked]


async def _replay_audit(db: Database, record: ExportAuditRecord) -> int:
    """An export's audit row the restored database lacks (the same time and selection), put
    back as it was written; 1 if it was."""
    async with db.write() as session:
        found = await session.scalar(
            select(ExportAudit.id).where(
                ExportAudit.at == record.at, ExportAudit.selection == record.selection
            )
        )
        if found is not None or not record.requests:
            return 0
        session.add(
            ExportAudit(
                at=record.at,
                actor_id=record.actor_id,
                cli=record.cli,
                selection=record.selection,
                batch_id=record.batch_id,
                count=len(record.requests),
                files=record.files,
                first_id=record.requests[0],
                last_id=record.requests[-1],
                request_ids=record.requests,
            )
        )
        return 1


async def _end_as_recorded(
    session: AsyncSession,
    record: Record,
    erased: list[int],
    live: dict[int, str],
    now: datetime,
) -> dict[int, str]:
    """The retention rule erased only ended requests: one the older backup still has in work
    (approved, say, exported and granted after the backup) is ended as the record says (as
    cancelled when an older line does not say), with an event; not left live and blank."""
    ended: dict[int, str] = {}
    events = EventRepository(session)
    for request_id in erased:
        was = live.get(request_id)
        if was is None:
            continue
        to = record.ended.get(request_id) or Status.CANCELLED.value
        if to in retention.LIVE_STATUSES:
            to = Status.CANCELLED.value
        if await RequestRepository(session).compare_and_set_status(
            request_id, [was], to, actor_id=None, at=now
        ):
            events.add(
                request_id,
                "erasure_replayed",
                actor_id=None,
                from_status=was,
                to_status=to,
                details={"rule": record.rule},
                at=now,
            )
            ended[request_id] = to
    return ended


async def reapply(
    db: Database, journal: str | None, retention_days: int, now: datetime | None = None
) -> Replay:
    """Every recorded erasure and export (the journal's, and the database's own erasures),
    in the order they happened, then the retention rule as of `now`. Idempotent: what is
    erased or exported already is left alone."""
    replay = Replay()
    records: list[Line] = [*_journal(journal), *await recorded(db)]
    replay.records = sum(isinstance(r, Record) for r in records)
    for record in sorted(records, key=lambda r: r.at):
        if isinstance(record, ExportRecord):
            replay.exported += await _replay_export(db, record)
        elif isinstance(record, ExportAuditRecord):
            replay.audits += await _replay_audit(db, record)
        else:
            replay.erased += await _replay_one(db, record)
    report = await retention.erase_due(db, now or utcnow(), retention_days)
    replay.retention = report.erased
    if replay.erased or replay.retention:
        await consent.drop_erased_words(db)
    return replay
