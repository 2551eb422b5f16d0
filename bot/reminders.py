"""Deadline reminders: applicants with an unfinished request and the admins' queue.

A background task checks every REMINDER_CHECK_SECONDS. Each reminder is recorded before it is
sent, so it goes out once even across restarts; sending is paced below Telegram's limit, and a
person who blocked the bot is recorded and skipped without stopping the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.redis import RedisStorage

from bot import texts
from bot.config import Settings
from bot.fsm.storage import DatabaseStorage
from bot.handlers.support import RETURN_KEY
from bot.support_desk import SupportDesk
from db.database import Database
from db.repositories import RequestRepository
from services import reminders, staff
from services.requests import Status

log = logging.getLogger(__name__)
SEND_RATE = 25  # messages a second, under Telegram's ≈ 30 per bot


class RateLimiter:
    """Spaces calls at least 1/rate seconds apart (clock and sleep injectable for tests)."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self.clock = clock
        self.sleep = sleep
        self._next = 0.0

    async def wait(self) -> None:
        now = self.clock()
        if self._next > now:
            await self.sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


@dataclass
class Report:
    sent: int = 0
    blocked: int = 0
    failed: int = 0


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


async def _deliver(
    bot: Bot,
    db: Database,
    limiter: RateLimiter,
    report: Report,
    deadline: date,
    days: int,
    chat_id: int,
    audience: str,
    text: str,
) -> None:
    async with db.write() as session:
        if not await reminders.claim(session, deadline, days, chat_id, audience):
            return  # already sent, perhaps before a restart
    await limiter.wait()
    try:
        await bot.send_message(chat_id, text)
        report.sent += 1
    except TelegramForbiddenError:
        report.blocked += 1
        async with db.write() as session:
            await reminders.mark_blocked(session, deadline, days, chat_id, audience)
    except TelegramAPIError as exc:
        report.failed += 1
        log.warning("reminder not sent: %s", type(exc).__name__)
        async with db.write() as session:
            await reminders.release(session, deadline, days, chat_id, audience)


async def send_due(
    bot: Bot,
    db: Database,
    storage: BaseStorage,
    settings: Settings,
    today: date,
    limiter: RateLimiter | None = None,
) -> Report:
    report = Report()
    deadline = settings.deadline
    if deadline is None:
        return report
    days = reminders.due_offset(today, deadline, settings.reminder_days)
    if days is None:
        return report
    limiter = limiter or RateLimiter(SEND_RATE)
    left = (deadline - today).days
    for chat_id in await unfinished_dialogs(storage):
        await _deliver(
            bot,
            db,
            limiter,
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
        admin_chats = (
            [settings.admin_chat_id] if settings.admin_chat_id else await staff.admins(session)
        )
    for chat_id in admin_chats:
        await _deliver(
            bot,
            db,
            limiter,
            report,
            deadline,
            days,
            chat_id,
            "admin",
            texts.reminder_admin(left, deadline, queue),
        )
    if report.sent or report.blocked or report.failed:
        log.info(
            "reminders: %d sent, %d blocked, %d failed", report.sent, report.blocked, report.failed
        )
    return report


async def periodic_loop(bot: Bot, db: Database, storage: BaseStorage, settings: Settings) -> None:
    """Reminders when a deadline is set, and forgetting abandoned drafts."""
    while True:
        try:
            if settings.deadline is not None:
                today = datetime.now(texts.LOCAL_TZ).date()
                await send_due(bot, db, storage, settings, today)
            if settings.support_chat_id is not None:
                await SupportDesk(bot, db, settings).remind_overdue()
            if isinstance(storage, DatabaseStorage):
                purged = await storage.purge_idle(timedelta(days=settings.draft_retention_days))
                if purged:
                    log.info("forgot %d abandoned dialogs", purged)
        except Exception:
            log.exception("periodic run failed")
        await asyncio.sleep(settings.reminder_check_seconds)


def start_periodic(
    bot: Bot, db: Database, storage: BaseStorage, settings: Settings
) -> asyncio.Task[None]:
    return asyncio.create_task(periodic_loop(bot, db, storage, settings), name="periodic")


async def stop_periodic(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
