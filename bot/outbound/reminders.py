"""Deadline reminders: applicants with an unfinished request and the admins' queue; and
the periodic job that also sends SLA reminders and forgets abandoned drafts.

The job runs once per REMINDER_CHECK_SECONDS across all workers (services/jobs.py). Each
reminder is recorded and put in the outbox in one transaction, so it goes out once even
across restarts and workers; the outbox paces it below Telegram's limits, and a person who
blocked the bot is recorded and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.methods import SendMessage
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.config import Settings
from bot.fsm.question import RETURN_KEY
from bot.fsm.storage import DatabaseStorage
from bot.outbound import org_desk, support_desk
from db.database import Database
from db.outbox import Envelope
from db.repositories import RequestRepository
from services import jobs, org_confirmation, outbox, reminders, staff
from services.outbox import Kind, Outcome
from services.requests import Status

if TYPE_CHECKING:
    from bot.outbound.context import Context

PERIODIC_JOB = "periodic"

log = logging.getLogger(__name__)


@dataclass
class Report:
    sent: int = 0  # enqueued now (the outbox sends them, paced)
    skipped: int = 0  # already recorded, perhaps before a restart or by another worker


async def unfinished_dialogs(storage: BaseStorage) -> list[int]:
    if isinstance(storage, DatabaseStorage):
        return await storage.chats_in_dialog("Form:", RETURN_KEY)
    if isinstance(storage, RedisStorage):
        chats = set()
        builder = storage.key_builder
        prefix = builder.prefix if isinstance(builder, DefaultKeyBuilder) else "fsm"
        async for key in storage.redis.scan_iter(match=f"{prefix}:*:state", count=500):
            state = await storage.redis.get(key)
            text = state.decode() if isinstance(state, bytes) else str(state or "")
            if text.startswith("Form:"):
                parts = (key.decode() if isinstance(key, bytes) else str(key)).split(":")
                if len(parts) > 2 and parts[1].lstrip("-").isdigit() and int(parts[1]) > 0:
                    chats.add(int(parts[1]))
        return sorted(chats)
    return []


async def _enqueue(
    db: Database,
    report: Report,
    deadline: date,
    days: int,
    chat_id: int,
    audience: str,
    text: str,
) -> None:
    """Record the reminder and put it in the outbox, in one transaction: it goes once, even
    across restarts and with several workers (the record's unique index decides)."""
    async with db.write() as session:
        if not await reminders.claim(session, deadline, days, chat_id, audience):
            report.skipped += 1
            return
        outbox.enqueue(
            session,
            chat_id,
            Kind.REMINDER,
            {
                "text": text,
                "deadline": deadline.isoformat(),
                "days": days,
                "audience": audience,
            },
            user_id=chat_id if audience == "applicant" else None,
        )
    report.sent += 1


async def send_due(
    db: Database,
    storage: BaseStorage,
    settings: Settings,
    today: date,
) -> Report:
    report = Report()
    deadline = settings.deadline
    if deadline is None:
        return report
    days = reminders.due_offset(today, deadline, settings.reminder_days)
    if days is None:
        return report
    left = (deadline - today).days
    for chat_id in await unfinished_dialogs(storage):
        await _enqueue(
            db,
            report,
            deadline,
            days,
            chat_id,
            "applicant",
            texts.reminder_applicant(left, deadline),
        )
    async with db.read() as session:
        _, queue = await RequestRepository(session).queue(
            [Status.SUBMITTED.value], limit=1, offset=0
        )
        admin_chats = settings.admin_chats or await staff.admins(session)
    for chat_id in admin_chats:
        await _enqueue(
            db,
            report,
            deadline,
            days,
            chat_id,
            "admin",
            texts.reminder_admin(left, deadline, queue),
        )
    # Responsible persons of organisations with no request yet (order No 922, item 2.3).
    async with db.read() as session:
        people = await org_confirmation.responsible_without_requests(session)
        org_names = await staff.organization_names(session, {org for _, org in people})
    for chat_id, org in people:
        text = texts.reminder_responsible(left, deadline, org_names.get(org, ""))
        await _enqueue(db, report, deadline, days, chat_id, "responsible", text)
    if report.sent:
        log.info("reminders: %d queued, %d already sent", report.sent, report.skipped)
    return report


async def deliver_reminder(ctx: Context, row: Envelope) -> Outcome | None:
    await ctx.call(SendMessage(chat_id=row.chat_id, text=row.payload["text"]))
    return None


def reminder_blocked(row: Envelope) -> Callable[[AsyncSession], Awaitable[None]] | None:
    """A person who blocked the bot is recorded (and not reminded again)."""

    async def record(session: AsyncSession) -> None:
        await reminders.mark_blocked(
            session,
            date.fromisoformat(row.payload["deadline"]),
            int(row.payload["days"]),
            row.chat_id,
            str(row.payload["audience"]),
        )

    return record


async def run_once(
    db: Database, storage: BaseStorage, settings: Settings, worker: str, today: date | None = None
) -> bool:
    """One period's work, unless another worker (or this one) did it this period. False
    when it was not this worker's turn."""
    period = timedelta(seconds=settings.reminder_check_seconds)
    async with db.write() as session:
        if not await jobs.claim(session, PERIODIC_JOB, period, worker):
            return False
    if settings.deadline is not None:
        today = today or datetime.now(texts.LOCAL_TZ).date()
        await send_due(db, storage, settings, today)
    if settings.support_chats:
        async with db.write() as session:
            await support_desk.enqueue_overdue(session, settings)
    await org_desk.release_overdue(db, settings)  # ORG_CONFIRMATION_DAYS without an answer
    if isinstance(storage, DatabaseStorage):
        purged = await storage.purge_idle(timedelta(days=settings.draft_retention_days))
        if purged:
            log.info("forgot %d abandoned dialogs", purged)
    return True


async def periodic_loop(
    db: Database, storage: BaseStorage, settings: Settings, worker: str
) -> None:
    """Reminders when a deadline is set, SLA reminders, forgetting abandoned drafts: once per
    REMINDER_CHECK_SECONDS across all workers. Each worker looks a few times a period, so
    the period is kept when one of them stops."""
    while True:
        try:
            await run_once(db, storage, settings, worker)
        except Exception:
            log.exception("periodic run failed")
        await asyncio.sleep(max(1.0, settings.reminder_check_seconds / 4))


def start_periodic(
    db: Database, storage: BaseStorage, settings: Settings, worker: str
) -> asyncio.Task[None]:
    return asyncio.create_task(periodic_loop(db, storage, settings, worker), name="periodic")


async def stop_periodic(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
