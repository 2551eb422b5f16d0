"""The delivery loop: turns outbox rows (services/outbox.py) into Bot API calls.

Each worker runs one loop. It claims the heads of ready lanes (a chat's rows go out in id
order, one at a time: an edit never overtakes the post it edits), a few at a time, and sends
each in a task of its own, so a slow or paced chat never holds up another. Each row goes out
on its chat's messenger (the chat's account key says which: services/accounts.py), through
that messenger's bot; MAX's session raises aiogram's exceptions for MAX's answers, so one
classification serves both. Pacing under each messenger's limits happens here and nowhere
else (bot/outbound/pacing.py). The answer becomes an outcome (`classify`), and the outcome the
row's next state, in one short transaction.

Each kind of row is delivered by one small function, registered in `HANDLERS` next to the
code that knows that kind of message (cards, the support desk, reminders). A handler returns
an outcome (`Delivered` by default) or raises what Telegram raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.exceptions import (
    AiogramError,
    ClientDecodeError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    CopyMessage,
    SendMessage,
)
from aiogram.types import InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.messengers import Bots, bot_messenger
from bot.outbound.context import BlockedHook, Context, Handler
from bot.outbound.crossing import CONTENT, FileCache, fetch_file, methods_for
from bot.outbound.pacing import NoPacing, Pacer
from db.database import Database
from db.models import utcnow
from db.outbox import Envelope
from services import outbox, support
from services.accounts import messenger_of
from services.outbox import Delivered, Failed, Kind, Outcome, Retry, Undeliverable, Wait

log = logging.getLogger(__name__)
T = TypeVar("T")
GONE = ("chat not found", "user is deactivated", "bot was kicked", "not enough rights")


def classify(exc: BaseException) -> Outcome:
    """Telegram's answer (or its absence) → what to do with the row."""
    name = type(exc).__name__
    if isinstance(exc, TelegramRetryAfter):
        return Wait(float(exc.retry_after))
    if isinstance(exc, TelegramForbiddenError):
        return Undeliverable(name)
    if isinstance(exc, TelegramBadRequest):
        text = exc.message.lower()
        if "message is not modified" in text:
            return Delivered()
        if any(reason in text for reason in GONE):
            return Undeliverable(name)
        return Failed(name)
    if isinstance(
        exc, TelegramNetworkError | TelegramServerError | ClientDecodeError | TimeoutError
    ):
        return Retry(name)
    if isinstance(exc, AiogramError):
        return Failed(name)  # 401, 404, 409, a migrated group: a setting to fix, not to retry
    return Retry(name)  # the database for a moment, say: try again


def _handlers() -> dict[str, Handler]:
    from bot.outbound import cards, menus, org_desk, outreach, reminders, support_desk

    return {
        Kind.CARD_POST: cards.deliver_post,
        Kind.CARD_REFRESH: cards.deliver_refresh,
        Kind.NOTICE: cards.deliver_notice,
        Kind.TEXT: deliver_text,
        Kind.COPY: deliver_copy,
        Kind.SUPPORT_HEADER: support_desk.deliver_header,
        Kind.SUPPORT_NOTE: support_desk.deliver_note,
        Kind.SUPPORT_COPY: support_desk.deliver_copy,
        Kind.SUPPORT_EDIT: support_desk.deliver_edit,
        Kind.SUPPORT_ANSWER: support_desk.deliver_answer,
        Kind.SLA_REMINDER: support_desk.deliver_sla_reminder,
        Kind.TOPIC_DELETE: support_desk.deliver_topic_delete,
        Kind.DESK_DELETE: support_desk.deliver_desk_delete,
        Kind.REMINDER: reminders.deliver_reminder,
        Kind.ORG_CONFIRM: org_desk.deliver_ask,
        Kind.ORG_ASK_ERASED: org_desk.deliver_ask_erased,
        Kind.ORG_ASK_DECIDED: org_desk.deliver_ask_decided,
        Kind.MENU: menus.deliver,
        Kind.ORG_APPLICATION: org_desk.deliver_application,
        Kind.BROADCAST: outreach.deliver_broadcast,
        Kind.REPORT: outreach.deliver_report,
        Kind.GUIDE_DOCUMENT: outreach.deliver_guide_document,
    }


def _blocked_hooks() -> dict[str, BlockedHook]:
    from bot.outbound import outreach, reminders, support_desk

    return {
        Kind.SUPPORT_ANSWER: support_desk.answer_blocked,
        Kind.TEXT: support_desk.answer_blocked,
        Kind.REMINDER: reminders.reminder_blocked,
        Kind.BROADCAST: outreach.broadcast_blocked,
    }


async def deliver_text(ctx: Context, row: Envelope) -> Outcome | None:
    markup = row.payload.get("markup")
    keyboard = InlineKeyboardMarkup.model_validate(markup) if markup else None
    sent = await ctx.call(
        SendMessage(chat_id=row.chat_id, text=row.payload["text"], reply_markup=keyboard)
    )
    origin = row.payload.get(support.ANSWER_OF)
    if not origin:
        return None
    chat_id, message_id = int(origin[0]), int(origin[1])

    async def record(session: AsyncSession) -> None:  # a part of a specialist's answer
        support.remember_answer(session, row.chat_id, sent.message_id, chat_id, message_id)

    return Delivered(record)


async def deliver_copy(ctx: Context, row: Envelope) -> Outcome | None:
    if CONTENT in row.payload:  # from the other messenger: its content, not a copy
        content = row.payload[CONTENT]
        from_chat_id = int(row.payload["from_chat_id"])
        source = ctx.bots.for_chat(from_chat_id) if ctx.bots is not None else None
        data = await fetch_file(source or ctx.bot, content)
        for method in methods_for(content, data, row.chat_id):
            await ctx.call(method)
        return None
    await ctx.call(
        CopyMessage(
            chat_id=row.chat_id,
            from_chat_id=row.payload["from_chat_id"],
            message_id=row.payload["message_id"],
        )
    )
    return None


def _owner() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Delivery:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        pacer: Pacer | None = None,
        policy: outbox.Policy | None = None,
        clock: Callable[[], datetime] = utcnow,
        concurrency: int = 16,
        poll_seconds: float = 0.5,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.db = db
        self.settings = settings
        self.pacer: Pacer = pacer or NoPacing()
        self.policy = policy or outbox.Policy(
            max_age=settings.outbox_max_age, backoff_cap=settings.outbox_backoff_cap_seconds
        )
        self.clock = clock
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.rng = rng
        self.owner = _owner()
        self.handlers = _handlers()
        self.blocked_hooks = _blocked_hooks()
        self._wake = asyncio.Event()
        self._stopping = False
        self._in_flight: set[asyncio.Task[Any]] = set()
        self.delivered = 0  # rows delivered by this process (for the bench and the logs)
        # A broadcast's file for many people on the other messenger is fetched once.
        self.files = FileCache()

    def wake(self) -> None:
        self._wake.set()

    # -- the loop ---------------------------------------------------------------------------

    async def run(self, bots: Bot | Bots) -> None:
        """Until `stop`: claim what is ready, send it, sleep until woken or the next poll."""
        every = bots if isinstance(bots, Bots) else Bots(bots)
        while not self._stopping:
            self._wake.clear()
            free = self.concurrency - len(self._in_flight)
            rows: list[Envelope] = []
            if free > 0:
                try:
                    rows = await self._claim(free)
                except Exception as exc:  # the database away for a moment: poll again
                    log.warning("outbox claim failed: %s", type(exc).__name__)
            for row in rows:
                task = asyncio.create_task(self.deliver(every, row), name=f"outbox-{row.id}")
                self._in_flight.add(task)
                task.add_done_callback(self._finished)
            if len(rows) == free and free > 0:
                continue  # there may be more ready right now
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._in_flight.discard(task)
        self._wake.set()  # the lane's next row may be ready now
        if not task.cancelled() and task.exception() is not None:
            log.error("outbox delivery crashed: %s", type(task.exception()).__name__)

    async def stop(self, seconds: float) -> bool:
        """Take no more rows; let the ones being sent finish (up to `seconds`). What is not
        sent stays in the outbox for the next start."""
        self._stopping = True
        self._wake.set()
        if not self._in_flight:
            return True
        _, pending = await asyncio.wait(list(self._in_flight), timeout=seconds)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
        return not pending

    async def drain(self, bots: Bot | Bots, limit: int = 10_000) -> int:
        """Deliver everything ready now, lane after lane, until nothing is ready (for tests,
        the bench, and a one-off flush). Returns the rows tried."""
        every = bots if isinstance(bots, Bots) else Bots(bots)
        tried = 0
        while tried < limit:
            rows = await self._claim(self.concurrency)
            if not rows:
                break
            await asyncio.gather(*(self.deliver(every, row) for row in rows))
            tried += len(rows)
        return tried

    async def _claim(self, limit: int, ids: list[int] | None = None) -> list[Envelope]:
        now = self.clock()
        if ids is None:
            async with self.db.read() as session:
                if not await outbox.anything_ready(session, now):
                    return []
        async with self.db.write() as session:
            return await outbox.claim(session, self.owner, self.clock(), limit, self.policy, ids)

    # -- one row ----------------------------------------------------------------------------

    async def deliver(self, bots: Bot | Bots, row: Envelope) -> outbox.Applied:
        every = bots if isinstance(bots, Bots) else Bots(bots)
        bot = every.for_chat(row.chat_id)
        handler = self.handlers.get(row.kind)
        try:
            if handler is None:
                outcome: Outcome = Failed("UnknownKind")
            elif bot is None:
                # A row for MAX while MAX_TOKEN is unset (or the reverse): kept and tried
                # again until OUTBOX_MAX_AGE_HOURS, in case the setting comes back.
                outcome = Retry(f"No{messenger_of(row.chat_id).value.capitalize()}Bot")
            else:
                ctx = Context(
                    bot, self.db, self.settings, self.pacer, self.clock, every, self.files
                )
                outcome = await handler(ctx, row) or Delivered()
        except asyncio.CancelledError:
            await self._release(row)
            raise
        except Exception as exc:
            outcome = classify(exc)
        if isinstance(outcome, Undeliverable) and outcome.record is None:
            outcome = Undeliverable(outcome.error, self._blocked(row))
        if isinstance(outcome, Wait):
            await self.pacer.penalize(row.chat_id, outcome.seconds)
        async with self.db.write() as session:
            applied = await outbox.apply(session, row, outcome, self.clock(), self.policy, self.rng)
        self._log(row, outcome, applied)
        return applied

    def _blocked(self, row: Envelope) -> Callable[[AsyncSession], Awaitable[None]] | None:
        """Mark the person who blocked the bot where the project tracks it."""
        hook = self.blocked_hooks.get(row.kind)
        extra = hook(row) if hook is not None else None
        if row.chat_id < 0 and extra is None:
            return None

        async def record(session: AsyncSession) -> None:
            if row.chat_id > 0:
                await support.mark_blocked(session, row.chat_id)
            if extra is not None:
                await extra(session)

        return record

    async def _release(self, row: Envelope) -> None:
        """Cancelled mid-send (shutdown): the row is free for the next start at once, rather
        than after its lease. The send may have gone: docs/operations.md's duplicates story."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                async with self.db.write() as session:
                    await outbox.apply(
                        session, row, Wait(0, "Cancelled"), self.clock(), self.policy
                    )

    def _log(self, row: Envelope, outcome: Outcome, applied: outbox.Applied) -> None:
        # Kind, row and error type only: chat ids are people's accounts, and texts may quote
        # what they wrote.
        if applied.state == "delivered":
            self.delivered += 1
            return
        error = getattr(outcome, "error", "")
        if applied.state == "failed":
            log.error("outbox %s #%d failed: %s", row.kind, row.id, error)
        elif applied.state == "undeliverable":
            log.warning("outbox %s #%d undeliverable: %s", row.kind, row.id, error)
        else:
            log.warning(
                "outbox %s #%d will be tried again (%s): %s", row.kind, row.id, applied.state, error
            )


async def send_now(bot: Bot, db: Database, settings: Settings, ids: list[int]) -> bool:
    """Deliver these rows at once, from the handler that enqueued them (the applicant waits
    for this answer): the same path as the loop, without pacing. A row that is not the head
    of its lane yet, is for another messenger than `bot`'s, or fails now, is left to the
    loop. True when all went."""
    if not ids:
        return True
    delivery = Delivery(db, settings)
    rows = await delivery._claim(len(ids), ids)
    mine = bot_messenger(bot)
    results = []
    for row in rows:
        if messenger_of(row.chat_id) is mine:
            results.append(await delivery.deliver(bot, row))
        else:
            await delivery._release(row)
    return len(results) == len(ids) and all(r.state == "delivered" for r in results)
