"""The database FSM storage: answers are written behind, in shared commits, and nothing
accepted is lost at shutdown. On SQLite, or on PostgreSQL when TEST_DATABASE_URL is set.

The flusher's linger is held by the tests (`HeldLinger`) instead of timed: a loaded machine
cannot split a moment's writes or end a linger early."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import event, func, select

from bot.fsm.storage import DatabaseStorage
from db.database import Database
from db.models import FsmRecord


class HeldLinger:
    """The flusher's sleep: it lingers until the test lets it go."""

    def __init__(self) -> None:
        self.lingering = asyncio.Event()
        self.go = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.lingering.set()
        await self.go.wait()
        self.lingering.clear()


async def _commits_for_ten_answers(db: Database, linger: float) -> int:
    held = HeldLinger()
    storage = DatabaseStorage(db, linger=linger, sleep=held.sleep)
    commits = 0

    def count(_conn: Any) -> None:
        nonlocal commits
        commits += 1

    event.listen(db.write_engine.sync_engine, "commit", count)
    try:
        for user in range(10):  # ten people answering one after another
            key = StorageKey(bot_id=1, chat_id=user + 1, user_id=user + 1)
            await storage.set_state(key, "Form:snils")
            await asyncio.sleep(0)  # the flusher may run between any two
        if linger:
            assert held.lingering.is_set() and commits == 0  # all ten wait for one commit
            held.go.set()
        await storage.flush()
    finally:
        event.remove(db.write_engine.sync_engine, "commit", count)
        held.go.set()
        await storage.close()
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(FsmRecord)) == 10
    return commits


async def test_fsm_writes_of_one_moment_share_one_commit(db: Database) -> None:
    assert await _commits_for_ten_answers(db, linger=0.01) == 1


async def test_without_linger_each_answer_commits_alone(db: Database) -> None:
    # The contrast that shows the test above measures the linger, not luck.
    assert await _commits_for_ten_answers(db, linger=0) > 1


async def test_closing_the_fsm_storage_writes_everything_and_refuses_later_writes(
    db: Database,
) -> None:
    held = HeldLinger()
    storage = DatabaseStorage(db, linger=0.01, sleep=held.sleep)
    first = StorageKey(bot_id=1, chat_id=1, user_id=1)
    late = StorageKey(bot_id=1, chat_id=2, user_id=2)
    await storage.set_state(first, "Form:snils")
    await asyncio.wait_for(held.lingering.wait(), 10)  # the flusher is lingering
    closing = asyncio.create_task(storage.close())
    await asyncio.sleep(0)  # close() is under way (it refuses writes first)
    with pytest.raises(RuntimeError):
        await storage.set_state(late, "Form:email")  # refused, not silently dropped
    await closing
    assert not storage.pending
    async with db.read() as session:
        rows = (await session.execute(select(FsmRecord.key, FsmRecord.state))).all()
    assert [state for _key, state in rows] == ["Form:snils"]


async def test_a_flush_while_closing_waits_for_the_close(db: Database) -> None:
    held = HeldLinger()
    storage = DatabaseStorage(db, linger=0.01, sleep=held.sleep)
    await storage.set_state(StorageKey(bot_id=1, chat_id=1, user_id=1), "Form:snils")
    await asyncio.wait_for(held.lingering.wait(), 10)
    closing = asyncio.create_task(storage.close())
    await asyncio.sleep(0)  # close() has begun: new writes are refused
    await asyncio.wait_for(storage.flush(), 5)  # e.g. the reminder task's scan at shutdown
    await closing
    assert not storage.pending
