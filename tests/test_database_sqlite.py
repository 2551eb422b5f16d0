"""SQLite runs on the event loop's thread (db/sqlite_inline.py): a unit of database work never
hands the loop to other updates halfway, so it cannot queue behind them. These tests use a
SQLite file of their own whatever TEST_DATABASE_URL says: the property is SQLite's."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from db import database
from db.database import Database
from db.migrate import upgrade_to_head
from db.models import Consent, FsmRecord, utcnow


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    inline = Database(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")
    await upgrade_to_head(inline)
    yield inline
    await inline.dispose()


def run_without_yielding(coro: Coroutine[Any, Any, Any]) -> Any:
    """Drive `coro` by hand: it must finish without ever waiting for the event loop."""
    try:
        awaited = coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    pytest.fail(f"the coroutine waited for the event loop on {awaited!r}")


async def _read_count(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Consent)) or 0)


async def _write_consent(db: Database) -> int:
    async with db.write() as session:
        consent = Consent(account_id=7, version="v1", accepted=True, at=utcnow())
        session.add(consent)
        await session.flush()
        return consent.id


async def _write_fsm_row(db: Database) -> None:
    async with db.write_connection() as conn:
        await conn.execute(
            FsmRecord.__table__.insert(),  # type: ignore[arg-type]
            [{"key": "k", "state": "Form:snils", "data": "{}", "updated_at": utcnow()}],
        )


async def test_read_and_write_never_wait_for_the_loop(sqlite_db: Database) -> None:
    # Warm the pools first: opening a connection is allowed to be slow, not to yield either.
    await sqlite_db.warm_up(connections=2)
    work: list[Callable[[Database], Awaitable[Any]]] = [
        _write_consent,
        _read_count,
        _write_fsm_row,
    ]
    results = [run_without_yielding(step(sqlite_db)) for step in work]  # type: ignore[arg-type]
    assert results[0] >= 1
    assert results[1] == 1


async def test_a_failed_write_rolls_back_and_the_writer_stays_usable(
    sqlite_db: Database,
) -> None:
    await _write_fsm_row(sqlite_db)
    with pytest.raises(IntegrityError):
        await _write_fsm_row(sqlite_db)  # the same primary key again
    await _write_consent(sqlite_db)
    async with sqlite_db.read() as session:
        assert await session.scalar(select(func.count()).select_from(FsmRecord)) == 1
        assert await session.scalar(select(func.count()).select_from(Consent)) == 1


async def test_no_driver_threads(tmp_path: Path) -> None:
    before = {t.ident for t in threading.enumerate()}
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'threads.db'}")
    await upgrade_to_head(database)
    await database.warm_up(connections=4)
    await _write_consent(database)
    started = [t.name for t in threading.enumerate() if t.ident not in before]
    await database.dispose()
    # One thread of its own checkpoints the WAL (off the loop); none per connection.
    assert started == ["sqlite-checkpoint"]


async def test_no_checkpoint_inside_a_commit_on_the_loop(tmp_path: Path) -> None:
    """The writer's COMMIT never copies the WAL back (that took hundreds of milliseconds on
    the loop's thread at 100,000 requests); the checkpoint thread does, and stops with the
    database."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'wal.db'}")
    await upgrade_to_head(database)
    async with database.write_connection() as conn:
        pragma = await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")
        assert pragma.scalar() == 0
    assert "sqlite-checkpoint" in {t.name for t in threading.enumerate()}
    await database.dispose()
    assert "sqlite-checkpoint" not in {t.name for t in threading.enumerate()}


@contextlib.contextmanager
def another_process_writing(path: Path) -> Iterator[sqlite3.Connection]:
    """What `python -m bot import-organizations` beside the bot looks like: a connection of
    its own holding SQLite's write lock."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        other.close()


class FakeClock:
    """The writer's wait for another process's lock, without waiting: each pause advances
    the time and gives the loop one turn (as a real pause would let other updates run)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(database, "_monotonic", fake.monotonic)
    monkeypatch.setattr(database, "_pause", fake.pause)
    return fake


async def test_the_writer_connection_never_busy_waits_in_sqlite(sqlite_db: Database) -> None:
    # SQLite's own wait for a lock would run on the loop's thread and stop every update:
    # the writer has none, and waits in `_begin_immediate` instead (next test).
    async with sqlite_db.write_engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 0


async def test_a_writer_waits_for_another_process_without_stopping_the_bot(
    sqlite_db: Database, tmp_path: Path, clock: FakeClock
) -> None:
    with another_process_writing(tmp_path / "inline.db") as other:
        write = asyncio.create_task(_write_consent(sqlite_db))
        for _ in range(1000):  # loop turns, each a retry: no time passes for real
            await asyncio.sleep(0)
            if len(clock.pauses) >= 8:
                break
        assert not write.done()  # still waiting for the lock...
        assert await _read_count(sqlite_db) == 0  # ...while others are served
        waited = len(clock.pauses)
        other.execute("COMMIT")
        async with asyncio.timeout(30):
            assert await write >= 1
    # It waited between tries, backing off up to 20 ms (another process writing in short
    # transactions leaves short gaps), and went on once the lock was free.
    assert clock.pauses[:5] == [0.005, 0.01, 0.02, 0.02, 0.02] and max(clock.pauses) == 0.02
    assert len(clock.pauses) <= waited + 1
    assert await _read_count(sqlite_db) == 1


async def test_a_writer_gives_up_after_the_wait_and_stays_usable(
    sqlite_db: Database, tmp_path: Path, clock: FakeClock
) -> None:
    with another_process_writing(tmp_path / "inline.db"), pytest.raises(sqlite3.OperationalError):
        await _write_consent(sqlite_db)
    assert database.WRITE_LOCK_WAIT < clock.now <= database.WRITE_LOCK_WAIT + 0.1
    await _write_consent(sqlite_db)
    assert await _read_count(sqlite_db) == 1
