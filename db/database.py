"""Engines and transactions.

SQLite has one writer. Write transactions therefore go through a single pooled connection and
start with `BEGIN IMMEDIATE`, so a transaction that reads and then writes takes the lock up front
instead of failing with "database is locked"; waiting writers queue in the pool, not in SQLite's
busy loop. Reads use their own connections (WAL lets them run beside the writer). SQLite's
calls run on the event loop's thread (db/sqlite_inline.py). On PostgreSQL reads run in
autocommit on an engine of their own, and a pooled connection is checked without a statement
before it is handed out (`_closed_seen_by_asyncpg`).

Transactions are short and owned by the caller: handlers open one around a service call and send
Telegram messages only after it commits, so no lock is held across network I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_only

from db.outbox import ENQUEUED_FLAG
from db.sqlite_inline import inline_creator

# How long a write waits for another process's write lock (`python -m bot export` or
# `import-organizations` running beside the bot) before it fails.
WRITE_LOCK_WAIT = 30.0
# How long SQLite itself may wait for a lock, blocking the loop (db/sqlite_inline.py): writers
# wait in `_begin_immediate` instead, without blocking; a reader in WAL mode waits only in rare
# moments (another process recovering the WAL).
READ_BUSY_TIMEOUT_MS = 200
# How often the WAL is checkpointed off the loop (`_Checkpointer`).
CHECKPOINT_SECONDS = 1.0


class _Checkpointer:
    """SQLite's automatic checkpoint runs inside a COMMIT: here on the event loop's thread
    (db/sqlite_inline.py), where copying a large WAL back into the database and syncing it took
    hundreds of milliseconds. The writer's connections have it off; this thread checkpoints
    instead, PASSIVE (it neither waits for nor blocks readers and writers)."""

    def __init__(self, path: str, interval: float = CHECKPOINT_SECONDS) -> None:
        self.path = path
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            connection.execute(f"PRAGMA busy_timeout={READ_BUSY_TIMEOUT_MS}")
            while not self._stop.wait(self.interval):
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _sqlite_pragmas(busy_timeout_ms: int, writer: bool = False) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling is switched off; SQLAlchemy's "begin" event
        # below emits the BEGIN we want.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            f"PRAGMA busy_timeout={busy_timeout_ms}",
            "PRAGMA foreign_keys=ON",
            # Deleted and overwritten content is zeroed in the pages written anyway: erased
            # personal data does not linger beside the rows (152-FZ). FAST: ON cost ~8 % of
            # the dialog's throughput by also rewriting freed pages.
            "PRAGMA secure_delete=FAST",
        ):
            cursor.execute(pragma)
        if writer:  # checkpoints run on a thread of their own (`_Checkpointer`)
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    return on_connect


def _closed_seen_by_asyncpg(dbapi_connection: Any) -> bool:
    """The pool's check before a checkout on PostgreSQL: alive unless asyncpg has seen the
    connection closed. SQLAlchemy's own ping is a statement before every checkout (on a write
    connection three round trips: BEGIN, `;`, ROLLBACK), which cost a /find a millisecond. A
    restart of the server or a terminated backend closes the socket; asyncpg marks the
    connection closed as soon as the loop reads that, so it is still caught here, and the pool
    replaces every connection older than it. What this cannot see (a connection silently cut
    on the network) fails its statement, and SQLAlchemy then drops the pool's connections as
    well."""
    return not dbapi_connection.driver_connection.is_closed()


def _no_rollback(dbapi_connection: Any) -> None:
    return None


# The clock of the wait below; tests replace both to wait without waiting.
_monotonic = time.monotonic
_pause = asyncio.sleep


def _begin_immediate(conn: Any) -> None:
    # The driver directly: one call instead of three (cursor, execute, close).
    driver = conn.connection.dbapi_connection._connection
    deadline = _monotonic() + WRITE_LOCK_WAIT
    delay = 0.005
    while True:
        try:
            await_only(driver.execute("BEGIN IMMEDIATE"))
            return
        except sqlite3.OperationalError as error:
            busy = error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY  # BUSY_* included
            if not busy or _monotonic() > deadline:
                raise
        # Another process holds the write lock. SQLite's own busy wait would block the event
        # loop (its calls run on the loop's thread): wait here instead, letting other updates
        # run meanwhile. In WAL mode BEGIN IMMEDIATE is the only place a writer can meet it.
        await_only(_pause(delay))
        # Polled at least every 20 ms: another process writing in short transactions (the
        # command-line export) leaves short gaps, and a slower poll would keep missing them.
        delay = min(delay * 2, 0.02)


class Database:
    def __init__(self, url: str | URL, *, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self._ensure_sqlite_dir()
            # Calls run on the loop's thread, not aiosqlite's (see db/sqlite_inline.py).
            args, kwargs = SQLiteDialect_aiosqlite().create_connect_args(self.url)
            connect = inline_creator(args, kwargs)
            self.write_engine = create_async_engine(
                self.url,
                async_creator=connect,
                echo=echo,
                hide_parameters=True,
                pool_size=1,
                max_overflow=0,
                pool_timeout=120,
                # The transaction ends with COMMIT or ROLLBACK already: no extra reset call.
                pool_reset_on_return=None,
            )
            # Reads run in autocommit: no BEGIN, no ROLLBACK on return. A read session holds
            # its connection only while a handler awaits a Bot API call inside it: enough
            # connections stay open for a busy moment.
            self.read_engine = create_async_engine(
                self.url,
                async_creator=connect,
                echo=echo,
                hide_parameters=True,
                pool_size=16,
                max_overflow=16,
                isolation_level="AUTOCOMMIT",
                pool_reset_on_return=None,
            )
            # In autocommit there is nothing to roll back: skip the call SQLAlchemy makes
            # when a read session closes.
            self.read_engine.sync_engine.dialect.do_rollback = _no_rollback  # type: ignore[method-assign]
            event.listen(self.write_engine.sync_engine, "connect", _sqlite_pragmas(0, writer=True))
            event.listen(
                self.read_engine.sync_engine, "connect", _sqlite_pragmas(READ_BUSY_TIMEOUT_MS)
            )
            event.listen(self.write_engine.sync_engine, "begin", _begin_immediate)
        else:
            self.write_engine = create_async_engine(
                self.url,
                echo=echo,
                hide_parameters=True,
                pool_size=10,
                max_overflow=10,
                pool_pre_ping=True,
            )
            # Reads in autocommit, as on SQLite: no BEGIN and no ROLLBACK around each read
            # session, two of its four round trips (a read that must see one snapshot opens
            # a transaction itself).
            self.read_engine = create_async_engine(
                self.url,
                echo=echo,
                hide_parameters=True,
                pool_size=10,
                max_overflow=10,
                pool_pre_ping=True,
                isolation_level="AUTOCOMMIT",
                pool_reset_on_return=None,
            )
            if self.url.get_driver_name() == "asyncpg":
                for engine in (self.write_engine, self.read_engine):
                    engine.sync_engine.dialect.do_ping = _closed_seen_by_asyncpg  # type: ignore[method-assign]
        self._on_dispose: list[Callable[[], None]] = []
        database = self.url.database
        if (
            self.is_sqlite
            and database
            and database != ":memory:"
            and not database.startswith("file:")
        ):
            self.on_dispose(_Checkpointer(database).stop)
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        # Called after a transaction that enqueued outbox rows commits (the delivery loop's
        # wake-up: it need not wait for its next poll).
        self.outbox_listeners: list[Callable[[], None]] = []
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    def _ensure_sqlite_dir(self) -> None:
        database = self.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One write transaction: committed on success, rolled back on any exception."""
        async with self._session(self._write_sessions) as session:
            async with session.begin():
                yield session
            if session.info.pop(ENQUEUED_FLAG, False):
                for listener in self.outbox_listeners:
                    listener()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._session(self._read_sessions) as session:
            yield session

    @asynccontextmanager
    async def write_connection(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection in one write transaction (used by the FSM storage's flusher)."""
        if not self.is_sqlite:
            async with self.write_engine.begin() as conn:
                yield conn
            return
        conn = await self.write_engine.connect()
        try:
            async with conn.begin():
                yield conn
        finally:
            await conn.close()

    @asynccontextmanager
    async def _session(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> AsyncIterator[AsyncSession]:
        if not self.is_sqlite:
            async with sessions() as session:
                yield session
            return
        # SQLAlchemy's `async with` closes a session in a task of its own, so that a
        # cancellation cannot interrupt the close halfway. That costs two turns of the event
        # loop for every session, and a busy loop's turn is milliseconds. On SQLite the close
        # runs inline (db/sqlite_inline.py) and never yields, so there is nothing to interrupt.
        session = sessions()
        try:
            yield session
        finally:
            await session.close()

    async def warm_up(self, connections: int = 8) -> None:
        """Open read connections before the first updates: opening one (the file, the
        pragmas) is the slowest part of a person's first answer otherwise."""

        async def touch() -> None:
            async with self.read_engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
                await asyncio.sleep(0.01)  # hold it, so the next touch opens another

        await asyncio.gather(*(touch() for _ in range(connections)))
        async with self.write_engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    def on_dispose(self, callback: Callable[[], None]) -> None:
        """Run `callback` when the database is disposed (engines of db/offloop.py)."""
        self._on_dispose.append(callback)

    async def dispose(self) -> None:
        for callback in self._on_dispose:
            callback()
        self._on_dispose.clear()
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
