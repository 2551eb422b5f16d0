"""MAX's message ids (``mid``) for the numbers the bot's code uses.

MAX edits and deletes a message by its string ``mid``; aiogram's code holds the number it got
back (MAX's ``seq``), and there is no way from ``seq`` back to ``mid`` (dev.max.ru/docs-api,
Message). So every message the transport sees is remembered here: in memory for the moment,
in ``max_messages`` for an edit after a restart (a card's summary, a notice turned into its
decision).

``remember`` only buffers: a flusher task writes what was buffered in one short transaction
``linger`` (50 ms) later, so a burst of sends costs one commit and no send waits for the
disk. A crash loses the last moment's mids (an edit of those messages then fails as «message
to edit not found»); ``flush``/``close`` write everything buffered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from typing import cast

from sqlalchemy import Table, delete, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.database import Database
from db.models import MaxMessage, utcnow

log = logging.getLogger(__name__)
_TABLE = cast(Table, MaxMessage.__table__)
Key = tuple[int, int]


class MidStore:
    def __init__(
        self,
        db: Database,
        *,
        linger: float = 0.05,
        retry_delay: float = 1.0,
        max_cached: int = 100_000,
    ) -> None:
        self.db = db
        self.linger = linger
        self.retry_delay = retry_delay
        self.max_cached = max_cached
        self._cache: OrderedDict[Key, str] = OrderedDict()
        self._pending: dict[Key, str] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one writer of the buffer at a time

    def remember(self, chat_id: int, message_id: int, mid: str) -> None:
        """Keep ``mid`` for (chat, message); written to the database shortly."""
        key = (chat_id, message_id)
        self._cache[key] = mid
        self._cache.move_to_end(key)
        while len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)
        self._pending[key] = mid
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush_soon(), name="max-mids-flusher"
            )

    async def mid_of(self, chat_id: int, message_id: int) -> str | None:
        key = (chat_id, message_id)
        mid = self._cache.get(key) or self._pending.get(key)
        if mid is not None:
            return mid
        async with self.db.read() as session:
            mid = await session.scalar(
                select(MaxMessage.mid).where(
                    MaxMessage.chat_id == chat_id, MaxMessage.message_id == message_id
                )
            )
        if mid is not None:
            self._cache[key] = mid
        return mid

    async def forget_chat(self, session: AsyncSession, chat_id: int) -> None:
        """Erase the chat's mids, in the caller's transaction (and from memory now: a mid
        is no personal datum, but erasure leaves nothing behind)."""
        for key in [k for k in self._cache if k[0] == chat_id]:
            del self._cache[key]
        for key in [k for k in self._pending if k[0] == chat_id]:
            del self._pending[key]
        await session.execute(delete(MaxMessage).where(MaxMessage.chat_id == chat_id))

    async def flush(self) -> None:
        """Write everything remembered so far."""
        async with self._lock:
            while self._pending:
                batch, self._pending = self._pending, {}
                try:
                    await self._write(batch)
                except BaseException:
                    # Put the batch back (newer mids for a key win) for the next try, also
                    # when close() cancels the flusher halfway through a write.
                    self._pending = {**batch, **self._pending}
                    raise

    async def close(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self.flush()

    async def _flush_soon(self) -> None:
        while self._pending:
            await asyncio.sleep(self.linger)
            try:
                await self.flush()
            except Exception as exc:
                log.warning("MAX mids not written: %s; trying again", type(exc).__name__)
                await asyncio.sleep(self.retry_delay)

    async def _write(self, batch: dict[Key, str]) -> None:
        rows = [
            {"chat_id": chat, "message_id": message, "mid": mid, "created_at": utcnow()}
            for (chat, message), mid in batch.items()
        ]
        async with self.db.write() as session:
            dialect = session.get_bind().dialect.name
            if dialect == "postgresql":
                pg = postgresql.insert(_TABLE)
                pg_stmt = pg.on_conflict_do_update(
                    index_elements=["chat_id", "message_id"], set_={"mid": pg.excluded.mid}
                )
                await session.execute(pg_stmt, rows)
            elif dialect == "sqlite":
                lite = sqlite.insert(_TABLE)
                lite_stmt = lite.on_conflict_do_update(
                    index_elements=["chat_id", "message_id"], set_={"mid": lite.excluded.mid}
                )
                await session.execute(lite_stmt, rows)
            else:
                keys = list(batch)
                await session.execute(
                    delete(_TABLE).where(tuple_(_TABLE.c.chat_id, _TABLE.c.message_id).in_(keys))
                )
                await session.execute(_TABLE.insert(), rows)
