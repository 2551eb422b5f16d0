"""Periodic jobs that must run once per period however many workers there are: the first
worker whose conditional UPDATE finds the period over runs it (one row per job)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import JobRun, utcnow


async def claim(
    session: AsyncSession,
    name: str,
    period: timedelta,
    worker: str,
    now: datetime | None = None,
) -> bool:
    """True when this call starts the job's new period (and records it)."""
    now = now or utcnow()
    result = await session.execute(
        update(JobRun)
        .where(JobRun.name == name, JobRun.last_run_at <= now - period)
        .values(last_run_at=now, owner=worker[:64])
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) == 1:
        return True
    if await session.get(JobRun, name) is not None:
        return False
    try:  # the job's first run ever
        async with session.begin_nested():
            session.add(JobRun(name=name, last_run_at=now, owner=worker[:64]))
            await session.flush()
    except IntegrityError:
        return False  # another worker's first run, at the same moment
    return True
