"""aiogram FSM storage in the project's database.

Measured on SQLite, one ORM write per dialog step gives ≈ 250 updates/s and "database is
locked" under load. So: reads come from an in-process cache (loaded from the database once per
key), writes only mark the key dirty, and one flusher task writes every dirty key in a single
short transaction, `linger` (10 ms) later: the updates of that moment share one commit (at
200 updates/s, one commit per update cost more CPU than the dialog itself), and no update
waits for the disk. A crash loses at most the writes of that last moment (the
person repeats one answer); a shutdown flushes everything (`close`), and `flush()` waits for
the writes marked so far.

The cache makes this storage correct for one bot process per database, which is how polling
runs; several webhook workers should use Redis (REDIS_URL).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StorageKey
from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from db.database import Database
from db.models import FsmRecord, utcnow

log = logging.getLogger(__name__)
_TABLE = cast(Table, FsmRecord.__table__)


@dataclass
class _Entry:
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class DatabaseStorage(BaseStorage):
    def __init__(
        self,
        db: Database,
        key_builder: DefaultKeyBuilder | None = None,
        *,
        max_cached: int = 200_000,
        retry_delay: float = 0.5,
        linger: float = 0.01,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.db = db
        self._sleep = sleep  # the flusher's only clock: tests hold it instead of timing it
        self.key_builder = key_builder or DefaultKeyBuilder(with_destiny=True)
        self.max_cached = max_cached
        self.retry_delay = retry_delay
        self.linger = linger
        self._cache: dict[str, _Entry] = {}
        self._dirty: set[str] = set()
        self._marked = 0  # number of writes marked so far
        self._committed = 0  # all writes up to this number are on disk
        self._wake = asyncio.Event()
        self._progress = asyncio.Condition()
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False

    # -- BaseStorage -------------------------------------------------------------------------

    async def set_state(self, key: StorageKey, state: str | State | None = None) -> None:
        name = self.key_builder.build(key)
        entry = await self._entry(name)
        entry.state = state.state if isinstance(state, State) else state
        self._mark(name)

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._entry(self.key_builder.build(key))).state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            msg = f"Data must be a dict or dict-like object, got {type(data).__name__}"
            raise DataNotDictLikeError(msg)
        name = self.key_builder.build(key)
        entry = await self._entry(name)
        entry.data = copy.deepcopy(data)
        self._mark(name)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return copy.deepcopy((await self._entry(self.key_builder.build(key))).data)

    async def close(self) -> None:
        # Refuse new writes first: one accepted from now on would never reach the database.
        self._closed = True
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        while self._dirty:  # what the flusher had not written yet
            names, self._dirty = self._dirty, set()
            await self._write(names)
        async with self._progress:
            self._committed = self._marked
            self._progress.notify_all()

    # -- durability ----------------------------------------------------------------------------

    @property
    def pending(self) -> bool:
        return self._committed < self._marked

    async def flush(self) -> None:
        """Wait until every write marked before this call is committed."""
        target = self._marked
        if self._committed >= target:
            return
        self._ensure_flusher()
        async with self._progress:
            await self._progress.wait_for(lambda: self._committed >= target)

    async def chats_in_dialog(self, prefix: str, parked_key: str) -> list[int]:
        """Private chats whose dialog is in a state starting with `prefix` (e.g. "Form:"), or
        parked there while another flow runs (the parked state under `parked_key`)."""
        await self.flush()
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(FsmRecord.key, FsmRecord.state, FsmRecord.data).where(
                        FsmRecord.state.is_not(None)
                    )
                )
            ).all()
        chats = set()
        for key, state, data in rows:
            parked = parked_key in data and str(json.loads(data).get(parked_key)).startswith(prefix)
            if str(state).startswith(prefix) or parked:
                chat = int(key.split(self.key_builder.separator)[1])
                if chat > 0:
                    chats.add(chat)
        return sorted(chats)

    async def purge_idle(self, older_than: timedelta) -> int:
        """Forget dialogs untouched for `older_than`: an abandoned draft holds personal data
        (SNILS, name, e-mail) that nobody is going to send."""
        await self.flush()
        cutoff = utcnow() - older_than
        async with self.db.write_connection() as conn:
            keys = (
                (
                    await conn.execute(
                        delete(_TABLE).where(_TABLE.c.updated_at < cutoff).returning(_TABLE.c.key)
                    )
                )
                .scalars()
                .all()
            )
        for name in keys:
            if name not in self._dirty:
                self._cache.pop(name, None)
        return len(keys)

    # -- internals -----------------------------------------------------------------------------

    async def _entry(self, name: str) -> _Entry:
        entry = self._cache.get(name)
        if entry is not None:
            return entry
        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(FsmRecord.state, FsmRecord.data).where(FsmRecord.key == name)
                )
            ).first()
        loaded = _Entry(row.state, json.loads(row.data)) if row else _Entry()
        # A write that happened while we were reading wins over what we read.
        entry = self._cache.setdefault(name, loaded)
        self._evict_if_needed()
        return entry

    def _mark(self, name: str) -> None:
        if self._closed:
            raise RuntimeError("storage is closed")
        self._dirty.add(name)
        self._marked += 1
        self._ensure_flusher()
        self._wake.set()

    def _ensure_flusher(self) -> None:
        # Once closing, close() itself writes what is left and wakes flush() waiters.
        if not self._closed and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.create_task(self._flush_loop(), name="fsm-flusher")

    def _evict_if_needed(self) -> None:
        if len(self._cache) <= self.max_cached:
            return
        for name in list(self._cache)[: len(self._cache) // 10]:
            if name not in self._dirty:
                del self._cache[name]

    async def _flush_loop(self) -> None:
        while True:
            await self._wake.wait()
            if self.linger:
                await self._sleep(self.linger)  # let the writes of this moment join
            self._wake.clear()
            if not self._dirty:
                continue
            batch_names, self._dirty = self._dirty, set()
            upto = self._marked
            try:
                await self._write(batch_names)
            except asyncio.CancelledError:
                self._dirty |= batch_names  # close() writes them
                raise
            except Exception:
                log.exception("FSM flush failed for %d dialogs; retrying", len(batch_names))
                self._dirty |= batch_names
                await self._sleep(self.retry_delay)
                self._wake.set()
                continue
            async with self._progress:
                self._committed = max(self._committed, upto)
                self._progress.notify_all()

    async def _write(self, names: set[str]) -> None:
        upserts: list[dict[str, Any]] = []
        deletes: list[str] = []
        now = utcnow()
        for name in names:
            entry = self._cache.get(name, _Entry())
            if entry.state is None and not entry.data:
                deletes.append(name)
            else:
                upserts.append(
                    {
                        "key": name,
                        "state": entry.state,
                        "data": json.dumps(entry.data, ensure_ascii=False),
                        "updated_at": now,
                    }
                )
        async with self.db.write_connection() as conn:
            if upserts:
                insert = (sqlite.insert if self.db.is_sqlite else postgresql.insert)(_TABLE)
                statement = insert.on_conflict_do_update(
                    index_elements=[_TABLE.c.key],
                    set_={
                        "state": insert.excluded.state,
                        "data": insert.excluded.data,
                        "updated_at": insert.excluded.updated_at,
                    },
                )
                await conn.execute(statement, upserts)
            if deletes:
                await conn.execute(delete(_TABLE).where(_TABLE.c.key.in_(deletes)))
