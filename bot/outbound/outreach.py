"""What the outbox sends for oversight and outreach: a /broadcast to one person, and the parts
of the scheduled report; and the job that puts the weekly report in the outbox.

The scheduled report goes to REPORT_CHAT_ID on REPORT_WEEKDAY at REPORT_TIME (local time),
once per slot however many workers there are and across restarts: the slot is a row of
job_runs (services/jobs.py) claimed in the transaction that enqueues the report's three
outbox rows (text, chart, XLSX, in that order: one chat's rows go out in id order). Each part
is rendered when it is sent, from the database as it is then; nothing personal is in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from html import escape
from typing import TYPE_CHECKING

from aiogram.methods import SendDocument, SendMessage, SendPhoto
from aiogram.types import BufferedInputFile
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.config import Settings
from bot.outbound.crossing import send_file
from bot.report_render import render, text_of
from db.database import Database
from db.outbox import Envelope
from services import broadcast, guide_docs, jobs, outbox, report
from services.outbox import Delivered, Kind, Outcome

if TYPE_CHECKING:
    from bot.outbound.context import Context

log = logging.getLogger(__name__)
REPORT_JOB = "report"
# A slot missed by more than this (the bot was down) is not sent late.
REPORT_GRACE = timedelta(hours=12)
# A slot's job_runs row is claimed once, and never again.
FOREVER = timedelta(days=3650)
PARTS = ("text", "chart", "xlsx")


# --- /broadcast -------------------------------------------------------------------------------


async def deliver_broadcast(ctx: Context, row: Envelope) -> Outcome | None:
    broadcast_id = int(row.payload["broadcast_id"])
    async with ctx.db.read() as session:
        text = await broadcast.text_of(session, broadcast_id)
    if text is None:
        return Delivered()  # the broadcast is gone: nothing to send
    # The admin's words as they typed them: escaped, never taken as markup.
    html = escape(text)
    part = row.payload.get(broadcast.PART)
    file = row.payload.get("file")
    if isinstance(file, dict):
        # The document (items 4.2-4.3) with the text as its caption, or alone when the text
        # went in a row of its own before it: by its id on its own messenger, else carried.
        caption = None if part == broadcast.FILE_PART else html
        await send_file(ctx.call, ctx.bots, ctx.files, row.chat_id, file, caption)
    else:
        await ctx.call(SendMessage(chat_id=row.chat_id, text=html))
    if part == broadcast.TEXT_PART:
        return Delivered()  # the person has it once the file that follows has gone too

    async def record(session: AsyncSession) -> None:
        await broadcast.mark(session, broadcast_id, row.chat_id, broadcast.DELIVERED)

    return Delivered(record)


def broadcast_blocked(row: Envelope) -> Callable[[AsyncSession], Awaitable[None]] | None:
    async def record(session: AsyncSession) -> None:
        await broadcast.mark(
            session, int(row.payload["broadcast_id"]), row.chat_id, broadcast.BLOCKED
        )

    return record


# --- «📖 Инструкция»'s documents (item 4.3) ---------------------------------------------------


async def deliver_guide_document(ctx: Context, row: Envelope) -> Outcome | None:
    """The document as it is when the row goes out: a version replaced meanwhile is the one
    sent; a removed one, nothing."""
    async with ctx.db.read() as session:
        document = await guide_docs.get(session, int(row.payload["document_id"]))
        title, file = (document.title, dict(document.file)) if document else (None, None)
    if title is None or file is None:
        return Delivered()
    await send_file(ctx.call, ctx.bots, ctx.files, row.chat_id, file, texts.guide_document(title))
    return None


# --- the scheduled report ---------------------------------------------------------------------


def slot_of(now: datetime, weekday: int, at: time) -> datetime:
    """The latest REPORT_WEEKDAY (1 = Monday … 7 = Sunday) at REPORT_TIME not after `now`
    (local time)."""
    local = now.astimezone(texts.LOCAL_TZ)
    back = (local.isoweekday() - weekday) % 7
    day = local.date() - timedelta(days=back)
    slot = datetime.combine(day, at, tzinfo=texts.LOCAL_TZ)
    if slot > local:
        slot -= timedelta(days=7)
    return slot


async def enqueue_due(db: Database, settings: Settings, worker: str, now: datetime) -> bool:
    """Put this slot's report in the outbox, unless it is not time, it is too late, or another
    worker (or an earlier run of this one) did. True when this call enqueued it."""
    if settings.report_chat_id is None:
        return False
    slot = slot_of(now, settings.report_weekday, settings.report_time)
    if now - slot > REPORT_GRACE:
        return False
    name = f"{REPORT_JOB}:{slot.strftime('%Y-%m-%dT%H:%M')}"
    async with db.write() as session:
        if not await jobs.claim(session, name, FOREVER, worker, now):
            return False
        for part in PARTS:
            outbox.enqueue(
                session,
                settings.report_chat_id,
                Kind.REPORT,
                {"part": part, "day": slot.date().isoformat()},
            )
    log.info("scheduled report queued for %s", slot.isoformat())
    return True


async def deliver_report(ctx: Context, row: Envelope) -> Outcome | None:
    day = date.fromisoformat(str(row.payload["day"]))
    figures = await report.collect(ctx.db, ctx.settings.region_name, day, ctx.settings.deadline)
    part = row.payload["part"]
    if part == "text":
        text = f"{texts.REPORT_SCHEDULED}\n\n{text_of(figures)}"
        await ctx.call(SendMessage(chat_id=row.chat_id, text=text))
        return None
    png, book = await render(figures)
    stamp = day.isoformat()
    if part == "chart":
        await ctx.call(
            SendPhoto(chat_id=row.chat_id, photo=BufferedInputFile(png, f"report_{stamp}.png"))
        )
    else:
        await ctx.call(
            SendDocument(
                chat_id=row.chat_id, document=BufferedInputFile(book, f"report_{stamp}.xlsx")
            )
        )
    return None


async def report_loop(db: Database, settings: Settings, worker: str, every: float = 60) -> None:
    while True:
        try:
            await enqueue_due(db, settings, worker, datetime.now(texts.LOCAL_TZ))
        except Exception:
            log.exception("scheduled report failed")
        await asyncio.sleep(every)


def start_report_schedule(
    db: Database, settings: Settings, worker: str
) -> asyncio.Task[None] | None:
    if settings.report_chat_id is None:
        return None
    return asyncio.create_task(report_loop(db, settings, worker), name="report-schedule")


async def stop_report_schedule(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# --- the FAQ's measured time to decision ------------------------------------------------------

MEDIAN_TTL = timedelta(minutes=10)
_median_cache: dict[int, tuple[datetime, float | None]] = {}


async def fill_faq(db: Database, answer: str) -> str:
    """An FAQ answer with `{median_decision}` replaced by the measured median time to
    decision (counted in SQL, off the event loop, at most once per MEDIAN_TTL per process)."""
    if texts.FAQ_MEDIAN_PLACEHOLDER not in answer:
        return answer
    now = datetime.now(texts.LOCAL_TZ)
    cached = _median_cache.get(id(db))
    if cached is None or now - cached[0] > MEDIAN_TTL:
        median, _ = await report.decision_hours(db)
        cached = _median_cache[id(db)] = (now, median)
    return answer.replace(texts.FAQ_MEDIAN_PLACEHOLDER, texts.median_decision(cached[1]))
