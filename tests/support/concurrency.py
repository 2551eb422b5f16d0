"""Making "two at once" happen for certain, on SQLite as on PostgreSQL.

SQLite's calls run on the loop's thread and the recording session answers at once, so two
handlers started together would otherwise run one after the other, and a race guard would
never be contended. These tools hold each task at a point the test chooses until the other
one has arrived there too, or is provably waiting behind the guard under test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.database import Database

TIMEOUT = 30  # a guard that serialises where the test expected both to meet fails, not hangs


class Rendezvous:
    """Holds arriving tasks until `parties` have arrived (or `release()` says the others are
    waiting behind a guard), then lets everyone go; later arrivals pass straight through."""

    def __init__(self, parties: int = 2) -> None:
        self.parties = parties
        self.arrived: list[str] = []
        self.opened = asyncio.Event()

    def release(self) -> None:
        self.opened.set()

    async def arrive(self) -> None:
        if self.opened.is_set():
            return
        self.arrived.append(task_name())
        if len(self.arrived) >= self.parties:
            self.opened.set()
        await self.opened.wait()


class ContendedLock(asyncio.Lock):
    """An asyncio.Lock that reports when someone has to wait for it."""

    def __init__(self, on_contention: Callable[[], None]) -> None:
        super().__init__()
        self.on_contention = on_contention
        self.contended = 0

    async def acquire(self) -> bool:
        if self.locked():
            self.contended += 1
            self.on_contention()
        return await super().acquire()


def task_name() -> str:
    task = asyncio.current_task()
    return task.get_name() if task is not None else "?"


def gate_writes(db: Database, rendezvous: Rendezvous, timeline: list[tuple[str, str]]) -> None:
    """Every `db.write()` waits at `rendezvous` before its transaction starts, and the
    timeline records when each task's transaction committed."""
    original = db.write

    @asynccontextmanager
    async def write() -> AsyncIterator[AsyncSession]:
        await rendezvous.arrive()
        async with original() as session:
            yield session
        timeline.append(("committed", task_name()))

    db.write = write  # type: ignore[method-assign]


def awaiting(task: asyncio.Task[Any]) -> list[str]:
    """Where a suspended task waits: its chain of awaited coroutines, innermost last, as
    "path:function" (Task.get_stack shows only the outermost frame of a suspended task)."""
    chain = []
    awaited: Any = task.get_coro()
    while awaited is not None:
        code = getattr(awaited, "cr_code", None) or getattr(awaited, "gi_code", None)
        if code is not None:
            chain.append(f"{code.co_filename}:{code.co_name}")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return chain


# SQLAlchemy's async pool hands out connections through an asyncio.Queue: a task waiting
# there waits for the connection (on SQLite, the single writer).
WAITING_FOR_A_CONNECTION = "asyncio/queues.py:get"


async def parked_in(task: asyncio.Task[Any], where: str, turns: int = 10_000) -> None:
    """Let the loop run until `task` waits in `where` ("path:function", matched as a suffix):
    proof that it is blocked there, not merely slow. Loop turns, not seconds: nothing else on
    the loop has to wait for the disk or the network."""
    for _ in range(turns):
        await asyncio.sleep(0)
        assert not task.done(), f"{task.get_name()} finished instead of waiting in {where}"
        if any(place.endswith(where) for place in awaiting(task)):
            return
    raise AssertionError(f"{task.get_name()} never waited in {where}: {awaiting(task)}")


def race_submits(
    monkeypatch: Any, db: Database, parties: int
) -> tuple[list[tuple[str, str]], Rendezvous]:
    """Start every submit's transaction together; on PostgreSQL also hold each one after its
    check for a live request until all have checked, so the unique index has to decide. On
    SQLite the single writer runs the transactions one after another: the timeline shows it
    (each later check finds the request the earlier transaction committed)."""
    from db.repositories import RequestRepository

    timeline: list[tuple[str, str]] = []
    start = Rendezvous(parties)
    gate_writes(db, start, timeline)
    checked = Rendezvous(parties)
    find_live = RequestRepository.find_live

    async def checking(self: RequestRepository, *args: Any, **kwargs: Any) -> Any:
        found = await find_live(self, *args, **kwargs)
        timeline.append(("found" if found is not None else "none", task_name()))
        if not db.is_sqlite:
            await checked.arrive()
        return found

    monkeypatch.setattr(RequestRepository, "find_live", checking)
    return timeline, start


def assert_submits_raced(db: Database, timeline: list[tuple[str, str]], parties: int) -> None:
    checks = [event for event in timeline if event[0] in ("none", "found")]
    if db.is_sqlite:
        # One writer: the first transaction checked, inserted and committed before the next
        # one's check, which found its request.
        first = timeline.index(checks[0])
        assert timeline[first + 1][0] == "committed", timeline
        assert [c[0] for c in checks[:parties]] == ["none"] + ["found"] * (parties - 1), timeline
    else:
        # Everyone checked before anyone committed: only the unique index stood between them.
        assert [c[0] for c in checks[:parties]] == ["none"] * parties, timeline
        assert all(e[0] != "committed" for e in timeline[: timeline.index(checks[parties - 1])])
