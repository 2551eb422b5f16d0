"""SQLite connections that run each call at once, on the event loop's thread.

aiosqlite runs every call (cursor, execute, fetch, close, commit) on a worker thread and hands the
result back through the event loop. On a busy loop each such trip waits for the loop's turn, and
an ORM statement is three or four trips: a submit of a dozen statements held SQLite's single
writer for tens of milliseconds and stretched to hundreds under load, while the statements
themselves take microseconds. SQLite is a library in this process, not a server: calling it
directly is cheaper than any trip.

`InlineConnection` keeps aiosqlite's interface (so SQLAlchemy's aiosqlite dialect, its async
engine and sessions work unchanged) and replaces the queue to the worker thread with a call made
on the spot. The awaitables it returns are already complete, so awaiting them never yields to the
loop.

What this costs: a statement blocks the loop while it runs. That is what the bot's statements
(indexed look-ups, single-row writes) can afford. SQLite's own busy wait for a lock held by
another *process* (a command-line export, say) would block the loop too, so the writer's
connections have no busy timeout and `db.database` waits for that lock asynchronously. Inside
the bot there is one writer connection, so its own writes never wait for each other in SQLite.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any

import aiosqlite


class _RunNow:
    """Stands in for aiosqlite's queue to its worker thread: runs each queued call at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as error:  # handed to the awaiting caller
            if future is not None and not future.done():
                future.set_exception(error)
            elif future is None:
                raise
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _RunNow()  # type: ignore[assignment]

    def __await__(self) -> Generator[Any, None, aiosqlite.Connection]:
        # No worker thread to start: connect on the spot.
        return self._connect().__await__()


def inline_creator(
    connect_args: Sequence[Any], connect_kwargs: Mapping[str, Any]
) -> Callable[[], Any]:
    """An `async_creator` for `create_async_engine` that opens `InlineConnection`s."""

    async def create() -> InlineConnection:
        def connector() -> sqlite3.Connection:
            return sqlite3.connect(*connect_args, **connect_kwargs)

        connection = InlineConnection(connector)
        await connection
        return connection

    return create
