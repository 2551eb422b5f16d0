"""Oversight for admins and viewers (chief specialists, the department; order items 3.2, 5):
/stats, /coverage, /report. Nothing here decides or shows a person's data; every view is a
staff event."""

from __future__ import annotations

from datetime import datetime

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import BotCommandScopeChat, BufferedInputFile, Message
from sqlalchemy import select

from bot import texts
from bot.config import Settings
from bot.handlers.admin.oversight import on_coverage, on_stats
from bot.outbound import menus
from bot.report_render import render, text_of
from db.database import Database
from db.models import StaffMember
from services import report
from services.staff import StaffRole


def _actor(message: Message) -> int | None:
    return message.from_user.id if message.from_user else None


async def send_report(bot: Bot, db: Database, settings: Settings, chat_id: int) -> None:
    """The report to `chat_id`: text, then the chart, then the XLSX (a direct answer)."""
    today = datetime.now(texts.LOCAL_TZ).date()
    figures = await report.collect(db, settings.region_name, today, settings.deadline)
    await bot.send_message(chat_id, text_of(figures))
    png, book = await render(figures)
    stamp = today.strftime("%Y-%m-%d")
    await bot.send_photo(chat_id, BufferedInputFile(png, filename=f"report_{stamp}.png"))
    await bot.send_document(chat_id, BufferedInputFile(book, filename=f"report_{stamp}.xlsx"))


async def on_report(message: Message, bot: Bot, db: Database, settings: Settings) -> None:
    await report.record(db, _actor(message), report.VIEWED_REPORT)
    await send_report(bot, db, settings, message.chat.id)


async def on_watch_stats(message: Message, bot: Bot, db: Database) -> None:
    await report.record(db, _actor(message), report.VIEWED_STATS)
    await on_stats(message, bot, db)


async def on_watch_coverage(
    message: Message, bot: Bot, db: Database, settings: Settings, staff_role: StaffRole
) -> None:
    await report.record(db, _actor(message), report.VIEWED_COVERAGE)
    # The organisations' signed forms are for admins only, never for viewers (item 2.3).
    await on_coverage(message, bot, db, settings, admin=staff_role == StaffRole.ADMIN)


async def set_viewer_commands(bot: Bot, db: Database) -> None:
    """A viewer's menu in their private chat: the applicant's commands and the figures."""
    async with db.read() as session:
        viewers = list(
            await session.scalars(
                select(StaffMember.account_id).where(StaffMember.role == StaffRole.VIEWER.value)
            )
        )
    commands = menus.viewer_commands()
    for viewer in viewers:
        try:
            await bot.set_my_commands(commands, scope=BotCommandScopeChat(chat_id=viewer))
        except TelegramBadRequest:
            pass  # a viewer who has not started the bot yet


def report_router() -> Router:
    router = Router(name="report")
    router.message.register(on_watch_stats, Command("stats"))
    router.message.register(on_watch_coverage, Command("coverage"))
    router.message.register(on_report, Command("report"))
    return router
