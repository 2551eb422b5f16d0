"""The daily retention job (services/retention.py) in every worker, and the erasure journal.

Each worker looks a few times a period; the first whose claim in `job_runs` finds the period
over runs it (services/jobs.py), so it runs once a period however many workers there are,
and a restart does not run it again before its time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from bot.config import Settings
from db.database import Database
from db.models import utcnow
from services import backup, retention

log = logging.getLogger(__name__)


async def journal(settings: Settings, records: list[backup.Record]) -> None:
    """Append erasures (already committed) to the journal, off the loop. A failure is logged:
    the erasure stands, and the database keeps its own proof."""
    try:
        await asyncio.to_thread(backup.journal_append, settings.erasure_journal, records)
    except OSError as exc:
        log.error("erasure journal not written: %s", type(exc).__name__)


def records(report: retention.Report, at: datetime) -> list[backup.Record]:
    """The journal lines of (a chunk of) a retention run: one per person."""
    return [
        backup.Record(
            at,
            account_id,
            ids,
            retention.RULE,
            {i: report.ended[i] for i in ids if i in report.ended},
        )
        for account_id, ids in sorted(report.people.items())
    ]


async def run_once(
    db: Database, settings: Settings, worker: str, now: datetime | None = None
) -> retention.Report | None:
    async def committed(chunk: retention.Report) -> None:
        # Each chunk as soon as it is committed: a run that dies later has still journaled
        # what it erased, so a restore of an older backup erases it again.
        await journal(settings, records(chunk, utcnow()))

    report = await retention.run_once(
        db,
        worker,
        days=settings.retention_days,
        period=timedelta(seconds=settings.retention_check_seconds),
        now=now,
        committed=committed,
    )
    if report is not None and report.erased:
        log.info("retention: %d requests erased", len(report.erased))
    return report


async def retention_loop(db: Database, settings: Settings, worker: str) -> None:
    while True:
        try:
            await run_once(db, settings, worker)
        except Exception:
            log.exception("retention run failed")
        await asyncio.sleep(max(30.0, min(3600.0, settings.retention_check_seconds / 8)))


def start_retention(db: Database, settings: Settings, worker: str) -> asyncio.Task[None]:
    return asyncio.create_task(retention_loop(db, settings, worker), name="retention")


async def stop_retention(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
