"""PostgreSQL's pool: a connection the server closed (a restart, a terminated backend) is
replaced before a session gets it, and handing out a pooled connection costs no statement.
These tests need TEST_DATABASE_URL on PostgreSQL: the properties are its pool's."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from sqlalchemy import event, text

from db.database import Database

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="needs TEST_DATABASE_URL on PostgreSQL",
)


@pytest.fixture
async def pg(db: Database) -> AsyncIterator[Database]:
    yield db


async def _backend_pid(session: Any) -> int:
    return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate_and_wait(db: Database, pids: set[int]) -> None:
    """Terminate the backends from a connection of its own, then wait until the server has
    no trace of them and the loop has read the closed sockets."""
    killer = Database(db.url)
    try:
        async with killer.write() as session:
            for pid in pids:
                await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        for _ in range(500):
            async with killer.read() as session:
                alive = (
                    await session.execute(
                        text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                        {"pids": list(pids)},
                    )
                ).scalar_one()
            if not alive:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the terminated backends did not go")
        await asyncio.sleep(0.05)
    finally:
        await killer.dispose()


async def test_sessions_after_the_servers_connections_were_closed_get_live_ones(
    pg: Database,
) -> None:
    # Several connections in each pool: held at once, then returned.
    pids: set[int] = set()
    async with AsyncExitStack() as stack:
        for _ in range(3):
            pids.add(await _backend_pid(await stack.enter_async_context(pg.read())))
        for _ in range(1):
            pids.add(await _backend_pid(await stack.enter_async_context(pg.write())))
    assert len(pids) == 4

    await _terminate_and_wait(pg, pids)

    for _ in range(4):
        async with pg.read() as session:
            assert await _backend_pid(session) not in pids
        async with pg.write() as session:
            assert await _backend_pid(session) not in pids
            await session.execute(text("SELECT 1"))


@pytest.fixture
def statements(pg: Database) -> Iterator[list[str]]:
    """Every statement asyncpg sends on the pools' connections, as the server receives it."""
    seen: list[str] = []

    def log(record: Any) -> None:
        seen.append(record.query.strip())

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(log)

    engines = (pg.read_engine.sync_engine, pg.write_engine.sync_engine)
    for engine in engines:
        event.listen(engine, "connect", on_connect)
    yield seen
    for engine in engines:
        event.remove(engine, "connect", on_connect)


async def test_a_pooled_connection_is_handed_out_without_a_statement(
    pg: Database, statements: list[str]
) -> None:
    """asyncpg logs the statements it sends as text (a ping's `;`, BEGIN, COMMIT), not the
    prepared ones a session runs: so what a checkout adds shows alone."""
    await pg.read_engine.dispose()
    await pg.write_engine.dispose()
    for _ in range(3):  # the first checkout opens the connection; the others reuse it
        async with pg.read() as session:
            await session.execute(text("SELECT 1"))
    reads = list(statements)
    statements.clear()
    for _ in range(3):
        async with pg.write() as session:
            await session.execute(text("SELECT 2"))
    writes = list(statements)

    assert reads == []
    assert writes == ["BEGIN;", "COMMIT;"] * 3
