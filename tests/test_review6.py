"""Review 6 (issue 13 / issue 11): reproductions of defects found in review. Each test is
expected to FAIL on main as merged (0fdc9e3) and pass once the defect is fixed."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from bot import texts
from bot.config import Settings
from bot.retention import run_once as retention_job
from db.database import Database
from db.models import AccessRequest, utcnow
from services import backup, retention
from tests.admin_support import submitted
from tests.conftest import make_settings
from tests.harness import Harness
from tests.test_retention import NOW, REJECTED, make, person

VICTIM = {"snils": "43105277135", "email": "petrova@example.ru"}


async def test_retention_journals_the_chunks_it_committed_even_if_a_later_one_fails(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "j" / "erasures.jsonl"
    settings = make_settings(database_url, erasure_journal=str(journal))
    a = await make(db, person(1), REJECTED, 40)
    await make(db, person(2), REJECTED, 40)
    monkeypatch.setattr(retention.erase_due, "__defaults__", (1, 0.0))  # one per chunk
    real = retention.erase_requests
    calls = []

    async def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the worker dies in the second chunk")
        return await real(*args, **kwargs)

    monkeypatch.setattr(retention, "erase_requests", flaky)
    with pytest.raises(RuntimeError):
        await retention_job(db, settings, "w", now=NOW)
    async with db.read() as session:
        first = await session.get(AccessRequest, a)
    assert first is not None and first.erased_at is not None  # committed, for good
    # ... but not in the journal: a restore + reapply-erasures brings person 1 back.
    assert [r.requests for r in backup.journal_read(str(journal))] == [[a]]


async def test_an_erased_person_is_not_left_in_the_sqlite_word_index_or_its_backup(
    h: Harness, db: Database, database_url: str, tmp_path: Path
) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite file")
    await submitted(h, 1001)
    person_ = h.user(1001)
    await person_.send("/withdraw")
    await person_.press(texts.BTN_WITHDRAW_CONFIRM)
    out = tmp_path / "b.db"
    backup.backup_sqlite(backup.sqlite_file(database_url), out)
    raw = out.read_bytes()
    with sqlite3.connect(out) as conn:
        fts = b"".join(
            bytes(block) for (block,) in conn.execute("SELECT block FROM request_search_data")
        )
    assert b"112-233-445 95" not in raw and b"ivanova@example.ru" not in raw  # passes
    # FTS5's 'delete' only adds a tombstone: the words stay in the index's segments
    # (db/search_index.py) until a merge; an 'optimize' after an erasure would drop them.
    assert [t for t in (b"11223344595", "иванова".encode(), b"ivanova") if t in fts] == []


async def test_replaying_a_retention_record_on_an_older_backup_does_not_leave_a_live_blank_request(
    db: Database, tmp_path: Path
) -> None:
    # The backup was taken while the request was still approved; later it was exported,
    # granted and erased by retention (journal). Replayed onto the restored database, the
    # erasure (services/backup.py _replay_one → erase_requests) blanks SNILS/name/e-mail but
    # leaves the request «approved»: a live request with no data, counted as live (it also
    # blocks nothing: /export skips erased rows, so it stays approved for ever).
    from services.requests import Status

    number = await make(db, person(1), (Status.SUBMITTED, Status.APPROVED), 1)
    journal = tmp_path / "erasures.jsonl"
    backup.journal_append(
        str(journal), [backup.Record(utcnow() + timedelta(minutes=1), 101, [number], "retention")]
    )
    await backup.reapply(db, str(journal), 30, now=NOW)
    async with db.read() as session:
        row = await session.get(AccessRequest, number)
    assert row is not None and row.erased_at is not None
    assert row.status not in ("submitted", "returned", "approved", "exported")


async def test_retention_leaves_no_name_in_the_support_thread_title(
    h: Harness, db: Database, admin_settings: Settings
) -> None:
    # support_threads.title («ФИО · организация», bot/support_desk.py _context) is stored and
    # used as the fallback name once no unerased request is left: after retention erases
    # the request, the header refresh keeps the old title, so ФИО stays in the database and
    # in the forum topic's name.
    from datetime import timedelta as td

    from sqlalchemy import update

    from services.requests import Status, decide
    from tests.test_dialog_question import forum, thread

    await forum(h, db)
    user = await submitted(h, 1001)
    await user.send("/help")
    await user.send("Как выбрать роль?")
    assert "Иванова" in (await thread(db)).title
    async with db.write() as session:
        assert await decide(session, 1, Status.REJECTED, actor_id=1)
        await session.execute(update(AccessRequest).values(updated_at=utcnow() - td(days=40)))
    report = await retention_job(db, admin_settings, "w")
    assert report is not None and report.erased == [1]
    await h.deliver()
    assert "Иванова" not in (await thread(db)).title
