"""Big reads without stalling the bot: the one way admin commands, reports and scheduled jobs
read more than a handful of rows.

SQLite's calls run on the event loop's thread (db/sqlite_inline.py), so a SELECT over 100,000
rows would stop every dialog while it runs. Here such reads go through a separate, plain
(synchronous) SQLAlchemy engine on a worker thread: sqlite3 releases the GIL while it steps,
the loop keeps serving updates, and WAL lets the read run beside the bot's writer. On
PostgreSQL the driver already waits on a socket, so the reads stay on the loop and only the
consumer's CPU work goes to a thread.

- `read_off_loop(db, fn)`: `fn(session)` with a synchronous `Session`, for aggregates and other
  reads whose result is small;
- `consume_off_loop(db, query, consumer)`: `consumer(rows)` on a worker thread, where `rows`
  iterates the query's result in chunks (never the whole result in memory): for writers of
  files and other CPU-heavy work over many rows.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeAlias, TypeVar

from sqlalchemy import Engine, Select, create_engine, event
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from db.database import Database

T = TypeVar("T")
# A SELECT of any columns.
Query: TypeAlias = Select[*tuple[Any, ...]]
CHUNK = 2000
# On PostgreSQL every chunk is a trip through the event loop, which waits its turn there:
# chunks of at least this many rows keep those trips few.
PG_CHUNK = 2000
# A worker thread may wait for SQLite's rare reader locks without blocking anyone.
READER_BUSY_TIMEOUT_MS = 5000

_engines: dict[int, Engine] = {}
_engines_lock = threading.Lock()


def _sqlite_reader(db: Database) -> Engine:
    """A synchronous engine on the same SQLite file, for reads only (cached per database)."""
    with _engines_lock:
        engine = _engines.get(id(db))
        if engine is None:
            url = db.url.set(drivername="sqlite+pysqlite")
            engine = create_engine(
                url,
                pool_size=2,
                max_overflow=2,
                connect_args={"check_same_thread": False},
                hide_parameters=True,
            )

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA query_only=ON")
                cursor.execute(f"PRAGMA busy_timeout={READER_BUSY_TIMEOUT_MS}")
                cursor.close()

            _engines[id(db)] = engine
            db.on_dispose(lambda: _forget(db))
        return engine


def _forget(db: Database) -> None:
    with _engines_lock:
        engine = _engines.pop(id(db), None)
    if engine is not None:
        engine.dispose()


def _raw(cursor: Any, chunk: int) -> Iterator[Any]:
    while part := cursor.fetchmany(chunk):
        yield from part


async def read_off_loop(db: Database, fn: Callable[[Session], T]) -> T:
    """`fn(session)` without blocking the loop: on a worker thread for SQLite, through the
    async driver (which waits without blocking) for PostgreSQL. Keep fn's own CPU work small."""
    if db.is_sqlite:
        engine = _sqlite_reader(db)

        def run() -> T:
            with Session(engine) as session:
                return fn(session)

        return await asyncio.to_thread(run)
    async with db.read() as session:
        return await session.run_sync(fn)


async def consume_off_loop(
    db: Database,
    query: Query,
    consumer: Callable[[Iterator[Row[Any]]], T],
    *,
    chunk: int = CHUNK,
    raw: bool = False,
) -> T:
    """`consumer(rows)` on a worker thread; `rows` streams the query's result `chunk` rows at a
    time. With `raw`, SQLite's rows come as the driver returns them, without SQLAlchemy's row
    objects and type processing (for text and integer columns: a third of the time). SQLite
    reads on that thread; PostgreSQL reads each chunk on the loop (a server-side cursor, a few
    milliseconds a chunk) when the consumer asks for it."""
    if db.is_sqlite:
        engine = _sqlite_reader(db)

        def run() -> T:
            with engine.connect() as conn:
                if raw:  # no yield_per: SQLAlchemy then buffers no rows ahead of the cursor
                    result = conn.execute(query)
                    rows: Iterator[Any] = _raw(result.cursor, chunk)
                else:
                    result = conn.execution_options(yield_per=chunk).execute(query)
                    rows = iter(result)
                try:
                    return consumer(rows)
                finally:
                    result.close()

        return await asyncio.to_thread(run)

    loop = asyncio.get_running_loop()
    chunk = max(chunk, PG_CHUNK)
    # A server-side cursor lives in a transaction: not on the reads' autocommit pool.
    async with db.write_engine.connect() as conn:
        result = await conn.stream(query.execution_options(yield_per=chunk))

        async def next_chunk() -> list[Row[Any]]:
            return list(await result.fetchmany(chunk))

        def rows() -> Iterator[Row[Any]]:
            while True:
                part = asyncio.run_coroutine_threadsafe(next_chunk(), loop).result()
                if not part:
                    return
                yield from part

        try:
            return await asyncio.to_thread(consumer, rows())
        finally:
            await result.close()


async def chunks_off_loop(
    db: Database,
    query: Query,
    consumer: Callable[[Iterator[list[tuple[Any, ...]]]], T],
    *,
    chunk: int = CHUNK,
) -> T:
    """`consumer(chunks)` on a worker thread; `chunks` yields the query's rows as lists of
    plain tuples, `chunk` at a time, as the driver returns them: no SQLAlchemy row objects and
    no result type processing (for text and integer columns only). For writers that handle
    whole chunks in C (csv.writer.writerows, pickle) rather than row by row in Python.

    SQLite reads on that thread. PostgreSQL reads through asyncpg's own server-side cursor on
    the loop, a chunk each time the consumer asks: asyncpg decodes the rows in C, so a chunk
    keeps the loop a few milliseconds; they become tuples on the worker thread."""
    if db.is_sqlite:
        engine = _sqlite_reader(db)

        def run() -> T:
            with engine.connect() as conn:
                result = conn.execute(query)
                cursor = result.cursor

                def chunks() -> Iterator[list[tuple[Any, ...]]]:
                    while part := cursor.fetchmany(chunk):
                        yield part  # type: ignore[misc]  # sqlite3 returns a list of tuples

                try:
                    return consumer(chunks())
                finally:
                    result.close()

        return await asyncio.to_thread(run)

    loop = asyncio.get_running_loop()
    chunk = max(chunk, PG_CHUNK)
    async with db.read_engine.connect() as conn:
        compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        values = compiled.construct_params()
        params = [values[name] for name in compiled.positiontup or ()]
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        if driver is None:
            raise RuntimeError("the database connection was closed under the read")
        async with driver.transaction(readonly=True):
            cursor = await driver.cursor(str(compiled), *params)

            def chunks() -> Iterator[list[tuple[Any, ...]]]:
                while True:
                    part = asyncio.run_coroutine_threadsafe(cursor.fetch(chunk), loop).result()
                    if not part:
                        return
                    yield list(map(tuple, part))

            return await asyncio.to_thread(consumer, chunks())
