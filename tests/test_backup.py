"""Backups and restores: `python -m bot backup` copies a running SQLite database consistently
(SQLite's online backup), refuses PostgreSQL with the pg_dump hint; `reapply-erasures` after
restoring an old backup leaves no erased person's data in it."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot import texts
from bot.config import Settings
from bot.retention import run_once as retention_job
from db.database import Database
from db.models import AccessRequest, Base, ExportAudit, Organization, RequestEvent, utcnow
from services import backup, consent, requests
from services.requests import Status
from tests.conftest import ROOT, make_settings
from tests.support.admin import submitted
from tests.support.harness import Harness
from tests.test_cli import run_bot
from tests.test_retention import GRANTED, NOW, make, person

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def sqlite_only(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite's online backup; PostgreSQL is copied with pg_dump (see operations.md)")


async def database_text(db: Database) -> str:
    parts = []
    async with db.read() as session:
        for table in Base.metadata.sorted_tables:
            parts += [repr(tuple(row)) for row in (await session.execute(select(table))).all()]
    return "\n".join(parts)


def leftovers(directory: Path) -> list[Path]:
    return list(directory.glob("*.partial"))


async def test_a_backup_taken_while_the_bot_writes_holds_every_committed_request(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    sqlite_only(db)
    # Some bulk, so that the copy takes long enough for the writer to commit meanwhile.
    async with db.write() as session:
        session.add_all(
            Organization(
                oid=f"1.2.{n}",
                name_full=f"Организация {n} " + "х" * 200,
                name_short=f"О{n}",
                region="Костромская область",
                search_key=f"организация {n}",
            )
            for n in range(20_000)
        )
    committed: list[int] = []
    stop = asyncio.Event()
    enough = asyncio.Event()
    target = [20]

    async def writer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            async with db.write() as session:
                result = await requests.submit(session, person(n % 900 + 10, role=f"Роль {n}"))
            assert isinstance(result, requests.Submitted)
            committed.append(result.request.id)
            if len(committed) >= target[0]:
                enough.set()
            await asyncio.sleep(0)

    task = asyncio.create_task(writer(), name="writer")
    await enough.wait()
    before = list(committed)
    out = tmp_path / "backup.db"
    copy = asyncio.create_task(
        asyncio.to_thread(backup.backup_sqlite, backup.sqlite_file(database_url), out)
    )
    during = len(committed)
    count = await copy
    written_meanwhile = len(committed) - during
    enough.clear()
    target[0] = len(committed) + 20
    await enough.wait()
    stop.set()
    await task

    with sqlite3.connect(out) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = {i for (i,) in conn.execute("SELECT id FROM access_requests")}
        created = {i for (i,) in conn.execute("SELECT request_id FROM request_events")}
        blank = conn.execute("SELECT count(*) FROM access_requests WHERE snils = ''").fetchone()
    assert set(before) <= ids <= set(committed)  # every committed request, nothing half-made
    assert ids <= created and blank == (0,)  # each request with its event: whole transactions
    assert count == len(ids)
    assert oct(out.stat().st_mode & 0o777) == "0o600"  # it holds personal data
    assert leftovers(tmp_path) == []
    assert written_meanwhile > 0  # the bot went on writing while the copy was made


async def test_the_backup_command(db: Database, database_url: str, tmp_path: Path) -> None:
    out = tmp_path / "copy.db"
    result = run_bot(["backup", "--out", str(out)], {"DATABASE_URL": database_url}, ROOT)
    if not db.is_sqlite:
        assert result.returncode == 2 and "pg_dump" in result.stderr
        assert result.stderr.strip() == texts.CLI_BACKUP_POSTGRES
        assert not out.exists()
        return
    assert result.returncode == 0, result.stderr
    assert "Резервная копия записана" in result.stdout and out.is_file()
    again = run_bot(["backup", "--out", str(out)], {"DATABASE_URL": database_url}, ROOT)
    assert again.returncode == 2 and "уже существует" in again.stderr


def plain_url(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def take_backup(db: Database, database_url: str, directory: Path) -> Path:
    """As docs/operations.md says: `backup_sqlite` (`python -m bot backup`), or pg_dump."""
    if db.is_sqlite:
        out = directory / "old.db"
        backup.backup_sqlite(backup.sqlite_file(database_url), out)
        return out
    out = directory / "old.dump"
    done = await asyncio.to_thread(
        subprocess.run,
        ["pg_dump", "--format=custom", f"--file={out}", plain_url(database_url)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return out


async def restore(db: Database, database_url: str, old: Path, directory: Path) -> str:
    """The database is lost and the old backup restored (a copy of the file; pg_restore
    --clean onto the database). Returns the restored database's URL."""
    if db.is_sqlite:
        restored_file = directory / "restored.db"
        shutil.copy(old, restored_file)
        return f"sqlite+aiosqlite:///{restored_file}"
    await db.dispose()
    done = await asyncio.to_thread(
        subprocess.run,
        ["pg_restore", "--clean", "--if-exists", f"--dbname={plain_url(database_url)}", str(old)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return database_url


async def test_reapply_erasures_after_restoring_an_old_backup(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    journal = tmp_path / "journal" / "erasures.jsonl"
    settings: Settings = make_settings(database_url, erasure_journal=str(journal))
    # A: access granted 40 days ago, due for retention; B: withdraws after the backup;
    # C: stays.
    a = await make(db, person(1), GRANTED, 40)
    b = await make(db, person(2), (Status.SUBMITTED,), 0)
    c = await make(db, person(3), (Status.SUBMITTED,), 0)
    old = await take_backup(db, database_url, tmp_path)

    # After the backup: the daily job erases A, B applies for another role and withdraws.
    report = await retention_job(db, settings, "worker")
    assert report is not None and report.erased == [a]
    b2 = await make(db, person(2, role="Куратор 1 уровня"), (Status.SUBMITTED,), 0)
    async with db.write() as session:
        withdrawal = await consent.withdraw(session, 102)
    assert withdrawal.erased == [b, b2]
    backup.journal_append(
        str(journal), [backup.Record(utcnow(), 102, withdrawal.erased, backup.WITHDRAWAL)]
    )
    assert len(journal.read_text().splitlines()) == 2
    assert "Фамилия" not in journal.read_text() and "@" not in journal.read_text()

    # The database is lost; the old backup is restored. Someone else's new request there
    # takes B's second request's number: it must survive the replay.
    restored_url = await restore(db, database_url, old, tmp_path)
    restored = Database(restored_url)
    try:
        async with restored.write() as session:
            result = await requests.submit(session, person(4, account_id=4000))
        assert isinstance(result, requests.Submitted) and result.request.id == b2
        text = await database_text(restored)
        assert "Фамилия1 " in text and "Фамилия2 " in text  # the erased are back

        cli = run_bot(
            ["reapply-erasures"],
            {"DATABASE_URL": restored_url, "ERASURE_JOURNAL": str(journal)},
            ROOT,
        )
        assert cli.returncode == 0, cli.stderr
        # A by its retention record, B's request 2 by the withdrawal's (request 4 is not B's).
        assert "Записей об удалении: 2; удалено снова по ним: 2" in cli.stdout

        text = await database_text(restored)
        for gone in ("Фамилия1 ", "person1@", "001-000-000 00", "Фамилия2 ", "person2@"):
            assert gone not in text, gone
        for kept in ("Фамилия3 ", "person3@", "Фамилия4 ", "person4@"):
            assert kept in text, kept
        async with restored.read() as session:
            rows = {r.id: r for r in await session.scalars(select(AccessRequest))}
        assert rows[b].status == "cancelled" and rows[b].erased_at is not None
        assert rows[c].erased_at is None and rows[b2].account_id == 4000

        # Idempotent: once more erases nothing.
        again = await backup.reapply(restored, str(journal), 30)
        assert again.erased == [] and again.retention == []
    finally:
        await restored.dispose()


async def test_a_withdrawal_in_the_bot_is_written_to_the_journal(
    h: Harness, db: Database, admin_settings: Settings, tmp_path: Path
) -> None:
    # The dispatcher's own settings (also on PostgreSQL, where tests keep no journal).
    admin_settings.erasure_journal = str(tmp_path / "erasures.jsonl")
    applicant = await submitted(h, 1001)
    await applicant.send("/withdraw")
    await applicant.press(texts.BTN_WITHDRAW_CONFIRM)
    records = backup.journal_read(admin_settings.erasure_journal)
    assert [(r.account_id, r.requests, r.rule) for r in records] == [(1001, [1], "withdrawal")]
    async with db.write() as session:  # make it look restored: the data back
        await session.execute(
            update(AccessRequest)
            .where(AccessRequest.id == 1)
            .values(snils="112-233-445 95", full_name="Иванова", email="a@b.ru", erased_at=None)
        )
        await session.execute(
            update(AccessRequest).where(AccessRequest.id == 1).values(account_id=1001)
        )
    replay = await backup.reapply(db, admin_settings.erasure_journal, 30)
    assert replay.erased == [1]
    assert "112-233-445 95" not in await database_text(db)


def test_a_journal_line_cut_short_is_skipped(tmp_path: Path) -> None:
    journal = tmp_path / "erasures.jsonl"
    backup.journal_append(str(journal), [backup.Record(utcnow(), 5, [1, 2], "retention")])
    with journal.open("a") as out:
        out.write('{"at": "2026-')  # the crash
    assert [(r.account_id, r.requests) for r in backup.journal_read(str(journal))] == [(5, [1, 2])]


async def test_a_replayed_retention_erasure_ends_the_request_as_it_had_ended(
    db: Database, tmp_path: Path
) -> None:
    # The backup was taken while the requests were still approved; later they were exported,
    # granted (or, say, cancelled) and erased by retention (journal). Replayed onto the
    # restored database, the erasure must not leave a live request with no data (/export
    # skips erased rows, so it would stay approved for ever): it ends as the journal says,
    # or, from a line written before the journal said it, as cancelled; with an event.
    granted = await make(db, person(1), (Status.SUBMITTED, Status.APPROVED), 1)
    old_line = await make(db, person(2), (Status.SUBMITTED, Status.APPROVED), 1)
    journal = tmp_path / "erasures.jsonl"
    later = utcnow() + timedelta(minutes=1)
    backup.journal_append(
        str(journal),
        [backup.Record(later, 101, [granted], "retention", {granted: "access_granted"})],
    )
    with journal.open("a", encoding="utf-8") as out:  # the format before «ended»
        out.write(
            f'{{"at":"{later.isoformat()}","account_id":102,'
            f'"requests":[{old_line}],"rule":"retention"}}\n'
        )
    await backup.reapply(db, str(journal), 30, now=NOW)
    async with db.read() as session:
        rows = {n: await session.get(AccessRequest, n) for n in (granted, old_line)}
        events = (
            await session.execute(
                select(RequestEvent.request_id, RequestEvent.from_status, RequestEvent.to_status)
                .where(RequestEvent.action == "erasure_replayed")
                .order_by(RequestEvent.request_id)
            )
        ).all()
    assert {n: (r.status, r.erased_at is not None) for n, r in rows.items() if r} == {
        granted: ("access_granted", True),
        old_line: ("cancelled", True),
    }
    assert [tuple(e) for e in events] == [
        (granted, "approved", "access_granted"),
        (old_line, "approved", "cancelled"),
    ]


def words_left(database_url: str, out: Path, words: tuple[str, ...]) -> list[str]:
    """Which of `words` a backup of the database still holds: in its word index's blocks (as
    FTS5 stores them) or anywhere in the file."""
    backup.backup_sqlite(backup.sqlite_file(database_url), out)
    raw = out.read_bytes()
    with sqlite3.connect(out) as conn:
        blocks = b"".join(
            bytes(block) for (block,) in conn.execute("SELECT block FROM request_search_data")
        )
    return [w for w in words if w.encode() in blocks or w.encode() in raw]


async def test_erased_words_leave_the_sqlite_word_index_and_its_backups(
    h: Harness, db: Database, database_url: str, admin_settings: Settings, tmp_path: Path
) -> None:
    # FTS5's 'delete' only marks a row's words deleted: they stay in the index's segments, in
    # the file and in every backup, until a merge (db/search_index.py SQLITE_PURGE).
    sqlite_only(db)
    await submitted(h, 1001)
    await submitted(h, 1002, snils="43105277135", email="petrova@example.ru")
    applicant = h.user(1001)
    await applicant.send("/withdraw")
    await applicant.press(texts.BTN_WITHDRAW_CONFIRM)
    person_2 = ("43105277135", "petrova", "иванова")
    assert words_left(database_url, tmp_path / "1.db", person_2) == list(person_2)
    assert words_left(database_url, tmp_path / "1.db", ("11223344595", "ivanova")) == []
    assert b"112-233-445 95" not in (tmp_path / "1.db").read_bytes()
    # The retention rule's erasure too.
    async with db.write() as session:
        assert await requests.decide(session, 2, Status.REJECTED, actor_id=1)
        await session.execute(
            update(AccessRequest).values(updated_at=utcnow() - timedelta(days=40))
        )
    report = await retention_job(db, admin_settings, "w")
    assert report is not None and report.erased == [2]
    assert words_left(database_url, tmp_path / "2.db", person_2) == []


async def test_exports_after_a_backup_are_replayed_after_a_restore(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    """A backup forgets the exports made after it: without the journal those requests would
    be approved-and-unexported again, and the next /export would send them to the federal
    operator a second time."""
    sqlite_only(db)
    from services import export

    journal = tmp_path / "journal" / "erasures.jsonl"
    # D is approved before the backup; E is submitted before it and approved after it; both
    # go out in the batch after the backup. F waits, approved, and is exported after the
    # restore as a new request of the next batch.
    d = await make(db, person(5), (Status.SUBMITTED, Status.APPROVED), 0)
    e = await make(db, person(6), (Status.SUBMITTED,), 0)
    old = await take_backup(db, database_url, tmp_path)
    async with db.write() as session:
        assert await requests.decide(session, e, Status.APPROVED, actor_id=1)
    made = await export.run_new(db, 1, tmp_path, "form", journal=str(journal))
    assert made.batch_id == 1 and made.files is not None and made.files.count == 2
    # And a re-export: its audit row (who received the data) must outlive the restore too.
    (tmp_path / "again").mkdir()
    assert (
        await export.run_again(db, 2, tmp_path / "again", "form", "all", journal=str(journal))
    ).count == 2
    line = journal.read_text()
    assert '"batch":1' in line and "Фамилия" not in line and "@" not in line

    restored_url = await restore(db, database_url, old, tmp_path)
    restored = Database(restored_url)
    try:
        f = await make(restored, person(7), (Status.SUBMITTED, Status.APPROVED), 0)
        async with restored.read() as session:
            before = {r.id: r.status for r in await session.scalars(select(AccessRequest))}
        assert before[d] == "approved" and before[e] == "submitted"  # the export forgotten

        async with restored.read() as session:
            assert (await session.scalars(select(ExportAudit))).all() == []
        replay = await backup.reapply(restored, str(journal), 30)
        assert replay.exported == [d, e] and replay.audits == 2
        async with restored.read() as session:
            audits = (await session.scalars(select(ExportAudit).order_by(ExportAudit.at))).all()
        assert [(x.actor_id, x.selection, x.batch_id, x.request_ids) for x in audits] == [
            (1, "new", 1, [d, e]),
            (2, "all", None, [d, e]),
        ]
        assert all(x.files and len(x.files["xlsx"]) == 64 for x in audits)
        async with restored.read() as session:
            rows = {r.id: r for r in await session.scalars(select(AccessRequest))}
            events = (
                await session.execute(
                    select(RequestEvent.request_id, RequestEvent.details).where(
                        RequestEvent.action == "exported"
                    )
                )
            ).all()
        for number in (d, e):
            assert rows[number].status == "exported" and rows[number].export_batch_id == 1
        assert sorted(i for i, _ in events) == [d, e]
        assert all(details["batch"] == 1 for _, details in events)
        assert rows[f].status == "approved"

        # The next /export takes F alone, in a new batch; and the replay is idempotent.
        again = await backup.reapply(restored, str(journal), 30)
        assert again.exported == [] and again.audits == 0
        (tmp_path / "later").mkdir()
        later = await export.run_new(restored, 1, tmp_path / "later", "form")
        assert later.batch_id == 2 and later.files is not None
        assert later.files.request_ids == [f]
    finally:
        await restored.dispose()
