"""Retention (152-FZ art. 21 p. 4): personal data are destroyed when the purpose is reached.

A request's purpose is reached when it ends: access granted, rejected or cancelled. Its SNILS,
ФИО and e-mail are erased `days` after that (the request's `updated_at`, set by the ending
transition), unless the same person — the same account or the same SNILS — has a
request still in work (submitted, returned, approved, exported), which may need them. The
erasure is the withdrawal's own (services.consent.erase_requests): the same event proof, the
same statistics kept (organisation, position, role, dates).

Safe with several workers and across restarts: the daily run is claimed in `job_runs`
(services/jobs.py), and the erasure itself is a conditional UPDATE on rows locked for it, so
two runs at once (or a replay) erase each request once.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, TextClause, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.database import Database
from db.models import RETENTION_PENDING, AccessRequest, Erasure, JobRun, utcnow
from services import jobs, outbox, support
from services.consent import drop_erased_words, erase_requests
from services.requests import Status

JOB = "retention"
RULE = "retention"
ENDED_STATUSES = (Status.ACCESS_GRANTED.value, Status.REJECTED.value, Status.CANCELLED.value)
LIVE_STATUSES = tuple(s.value for s in Status if s.value not in ENDED_STATUSES)
# Requests erased per write transaction: SQLite's single write lock is held for milliseconds
# (each erased row changes six indexes and the word index, like an export's mark).
CHUNK = 50
# Between two chunks of the daily job: time for the bot's own writes.
PAUSE = 0.01


def _live_of_the_person() -> ColumnElement[bool]:
    other = aliased(AccessRequest)
    return (
        select(other.id)
        .where(
            other.id != AccessRequest.id,
            other.erased_at.is_(None),
            other.status.in_(LIVE_STATUSES),
            or_(
                other.account_id == AccessRequest.account_id,
                other.snils == AccessRequest.snils,
            ),
        )
        .exists()
    )


def _pending(cutoff: datetime) -> list[ColumnElement[bool] | TextClause]:
    """Ended, still holding personal data, ended by `cutoff`. The condition is the partial
    index's own text (db/models.py), so SQLite reads the index, not the table."""
    return [text(RETENTION_PENDING), AccessRequest.updated_at <= cutoff]


def due_query(now: datetime, days: int) -> Select[int, int, str]:
    """(id, account, status) of the requests whose data are due for erasure at `now`,
    those that ended first first."""
    cutoff = now - timedelta(days=days)
    return (
        select(AccessRequest.id, AccessRequest.account_id, AccessRequest.status)
        .where(*_pending(cutoff), ~_live_of_the_person())
        .order_by(AccessRequest.updated_at, AccessRequest.id)
    )


@dataclass
class Outlook:
    """What `/retention` shows: due now, the coming days, and when the job runs."""

    due_now: int
    upcoming: list[tuple[datetime, int]] = field(default_factory=list)  # (day, count)
    waiting_for_live: int = 0  # ended and past the term, kept for a request in work
    last_run: datetime | None = None
    next_run: datetime | None = None


async def outlook(
    session: AsyncSession, now: datetime, days: int, period: timedelta, horizon: int = 7
) -> Outlook:
    cutoff = now - timedelta(days=days)
    due_now = await session.scalar(
        select(func.count())
        .select_from(AccessRequest)
        .where(*_pending(cutoff), ~_live_of_the_person())
    )
    ended_past = await session.scalar(
        select(func.count()).select_from(AccessRequest).where(*_pending(cutoff))
    )
    later = await session.scalars(
        select(AccessRequest.updated_at).where(
            *_pending(cutoff + timedelta(days=horizon)), AccessRequest.updated_at > cutoff
        )
    )
    by_day: dict[datetime, int] = defaultdict(int)
    for ended in later:
        due = ended + timedelta(days=days)
        by_day[due.replace(hour=0, minute=0, second=0, microsecond=0)] += 1
    run = await session.get(JobRun, JOB)
    last = run.last_run_at if run is not None else None
    return Outlook(
        due_now=int(due_now or 0),
        upcoming=sorted(by_day.items()),
        waiting_for_live=int(ended_past or 0) - int(due_now or 0),
        last_run=last,
        next_run=(last + period) if last is not None else None,
    )


@dataclass
class Report:
    erased: list[int] = field(default_factory=list)
    people: dict[int, list[int]] = field(default_factory=dict)  # account → request ids
    ended: dict[int, str] = field(default_factory=dict)  # request id → the status it ended in

    def add(self, other: Report) -> None:
        self.erased += other.erased
        for account_id, ids in other.people.items():
            self.people.setdefault(account_id, []).extend(ids)
        self.ended.update(other.ended)


# Told of each chunk right after its transaction committed (the erasure journal).
Committed = Callable[[Report], Awaitable[None]]


async def erase_due(
    db: Database,
    now: datetime,
    days: int,
    chunk: int = CHUNK,
    pause: float = 0.0,
    *,
    committed: Committed | None = None,
) -> Report:
    """Erase everything due at `now`, `chunk` requests per transaction. Each transaction
    selects what is due again, so a request erased meanwhile (another worker, a withdrawal)
    is not touched twice. Proof: an `erased` event per request and an `erasures` row per
    person, as for a withdrawal; `committed` hears of each chunk as soon as it is committed,
    so a run that fails later has still told of what it did."""
    report = Report()
    while True:
        done = Report()
        async with db.write() as session:
            rows = (await session.execute(due_query(now, days).limit(chunk))).all()
            if not rows:
                break
            owner = {int(i): int(t or 0) for i, t, _ in rows}
            status = {int(i): str(s) for i, _, s in rows}
            erased = await erase_requests(
                session, list(owner), actor_id=None, at=utcnow(), rule=RULE
            )
            people: dict[int, list[int]] = defaultdict(list)
            for request_id in erased:
                people[owner[request_id]].append(request_id)
            for account_id, ids in sorted(people.items()):
                session.add(
                    Erasure(
                        account_id=account_id,
                        at=utcnow(),
                        details={
                            "requests": ids,
                            "rule": RULE,
                            "ended": {str(i): status[i] for i in ids},
                        },
                    )
                )
            # The support thread of a person with nothing left keeps no name either.
            await support.forget_names(session, list(people))
            # The admins' cards and the support-topic header show the erasure.
            await outbox.follow_requests(session, [(i, owner[i]) for i in erased])
            done = Report(erased, dict(people), {i: status[i] for i in erased})
        report.add(done)
        if erased and committed is not None:
            await committed(done)
        if not erased:
            break  # another worker took them between our select and our update
        await asyncio.sleep(pause)
    return report


async def run_once(
    db: Database,
    worker: str,
    *,
    days: int,
    period: timedelta,
    now: datetime | None = None,
    committed: Committed | None = None,
) -> Report | None:
    """The day's run, unless another worker (or this one before a restart) did it this
    period: None then."""
    now = now or utcnow()
    async with db.write() as session:
        if not await jobs.claim(session, JOB, period, worker, now=now):
            return None
    erased = False

    async def told(chunk: Report) -> None:
        nonlocal erased
        erased = True
        if committed is not None:
            await committed(chunk)

    try:
        return await erase_due(db, now, days, pause=PAUSE, committed=told)
    finally:
        if erased:  # once a run, not per chunk: the merge rewrites the whole word index
            await drop_erased_words(db)
