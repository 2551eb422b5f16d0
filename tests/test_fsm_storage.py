"""The database FSM storage: answers are written behind, in shared commits, and nothing
accepted is lost at shutdown. On SQLite, or on PostgreSQL when TEST_DATABASE_URL is set."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import event, func, select

from bot.fsm.storage import DatabaseStorage
from db.database import Database
from db.models import FsmRecord


async def _commits_for_ten_answers(db: Database, linger: float) -> int:
    storage = DatabaseStorage(db, linger=linger)
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
        await storage.flush()
    finally:
        event.remove(db.write_engine.sync_engine, "commit", count)
        await storage.close()
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(FsmRecord)) == 10
    return commits


async def test_fsm_writes_of_one_moment_share_one_commit(db: Database) -> None:
    # A linger far longer than the answers take, so a slow machine cannot split them.
    assert await _commits_for_ten_answers(db, linger=0.5) == 1


async def test_without_linger_each_answer_commits_alone(db: Database) -> None:
    # The contrast that shows the test above measures the linger, not luck.
    assert await _commits_for_ten_answers(db, linger=0) > 1


async def test_closing_the_fsm_storage_writes_everything_and_refuses_later_writes(
    db: Database,
) -> None:
    storage = DatabaseStorage(db, linger=0.05)
    first = StorageKey(bot_id=1, chat_id=1, user_id=1)
    late = StorageKey(bot_id=1, chat_id=2, user_id=2)
    await storage.set_state(first, "Form:snils")
    closing = asyncio.create_task(storage.close())
    await asyncio.sleep(0.01)  # close() is under way, the flusher still lingering
    with pytest.raises(RuntimeError):
        await storage.set_state(late, "Form:email")  # refused, not silently dropped
    await closing
    assert not storage.pending
    async with db.read() as session:
        rows = (await session.execute(select(FsmRecord.key, FsmRecord.state))).all()
    assert [state for _key, state in rows] == ["Form:snils"]


async def test_a_flush_while_closing_waits_for_the_close(db: Database) -> None:
    storage = DatabaseStorage(db, linger=0.05)
    await storage.set_state(StorageKey(bot_id=1, chat_id=1, user_id=1), "Form:snils")
    closing = asyncio.create_task(storage.close())
    await asyncio.sleep(0)  # close() has begun: new writes are refused
    await asyncio.wait_for(storage.flush(), 5)  # e.g. the reminder task's scan at shutdown
    await closing
    assert not storage.pending
