"""One bot process per database unless the setup is made for several.

- SQLite: a second *bot* process against the same file is refused (an exclusive lock on a
  file beside the database). `python -m bot export` and `import-organizations` take no lock
  and work beside the bot.
- PostgreSQL without Redis: the FSM storage caches dialogs in the process, so a second process
  would answer from a stale cache; it is refused (an exclusive advisory lock). With Redis every
  worker takes the lock shared, so any number run together, but never beside one without it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import texts
from bot.config import Settings
from db.database import Database
from services.accounts import is_max

ADVISORY_KEY = 7_261_942_001  # any constant: one per application


class Refused(Exception):
    """A one-line reason the process must not start."""


def check_settings(settings: Settings, is_sqlite: bool) -> None:
    extra = settings.support_extra_chat_ids
    if extra and settings.support_chat_id is None:
        raise Refused(texts.SUPPORT_EXTRA_WITHOUT_MAIN)
    if any(chat >= 0 or is_max(chat) for chat in extra):
        raise Refused(texts.SUPPORT_EXTRA_NOT_GROUPS)
    if set(extra) & {*settings.admin_chats, settings.report_chat_id}:
        raise Refused(texts.SUPPORT_EXTRA_IS_ANOTHER_CHAT)
    if settings.max_token is not None and settings.bot_token is None:
        # MAX alone: nothing may point at Telegram, which this process cannot reach.
        telegram_chats = (settings.admin_chat_id, settings.support_chat_id, settings.report_chat_id)
        if any(chat is not None and not is_max(chat) for chat in telegram_chats):
            raise Refused(texts.MAX_ONLY_TELEGRAM_CHATS)
        if any(not is_max(admin) for admin in settings.admin_ids):
            raise Refused(texts.MAX_ONLY_TELEGRAM_ADMINS)
    if settings.max_token is not None and settings.workers > 1 and not settings.max_webhook_url:
        raise Refused(texts.MAX_WORKERS_NEED_WEBHOOK)
    if settings.workers > 1:
        if not settings.webhook_url:
            raise Refused(texts.WORKERS_NEED_WEBHOOK)
        if is_sqlite:
            raise Refused(texts.WORKERS_NEED_POSTGRES)
        if not settings.redis_url:
            raise Refused(texts.WORKERS_NEED_REDIS)


class ProcessGuard:
    def __init__(self) -> None:
        self._file: IO[str] | None = None
        self._conn: AsyncConnection | None = None

    async def acquire(self, db: Database, settings: Settings) -> None:
        if db.is_sqlite:
            self._lock_file(db)
            return
        shared = settings.redis_url is not None
        function = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
        conn = await db.write_engine.connect()
        got = await conn.scalar(text(f"SELECT {function}(:key)"), {"key": ADVISORY_KEY})
        await conn.commit()
        if not got:
            await conn.close()
            raise Refused(texts.ANOTHER_WORKER_WITH_REDIS if shared else texts.ANOTHER_BOT_PROCESS)
        self._conn = conn  # held for the process's life: the lock goes with the connection

    def _lock_file(self, db: Database) -> None:
        database = db.url.database or ""
        if not database or database == ":memory:" or database.startswith("file:"):
            return
        path = Path(database).with_name(Path(database).name + ".bot.lock")
        handle = path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise Refused(texts.sqlite_busy(str(Path(database)))) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    async def release(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
