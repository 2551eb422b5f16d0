"""Export for the federal operator, the access-granted step, statistics and coverage."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import date, datetime

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer
from openpyxl import Workbook

from bot import charts, texts
from bot.callbacks import GrantCb
from bot.cards import announce_many
from bot.config import Settings
from bot.handlers.admin import AdminOnly, AdminScope
from db.database import Database
from services import export, stats

_DATE = re.compile(r"^\d{1,2}\.\d{1,2}\.\d{4}$")
COVERAGE_SHOWN = 40


def _date(text: str) -> date | None:
    if not _DATE.match(text):
        return None
    try:
        return datetime.strptime(text, "%d.%m.%Y").date()
    except ValueError:
        return None


async def run_export(db: Database, actor_id: int | None, args: list[str]) -> export.Export | None:
    """The selection an admin asked for; None when the arguments make no sense."""
    if not args:
        async with db.write() as session:
            result = await export.export_new(session, actor_id)
            # The statuses changed: cards and topic headers follow.
            await announce_many(session, result.requests, None)
            return result
    if args == ["all"]:
        selection: dict[str, object] = {}
    elif len(args) == 1 and args[0].isdigit() and len(args[0]) < 10:
        selection = {"batch_id": int(args[0])}
    elif len(args) == 2 and (since := _date(args[0])) and (until := _date(args[1])):
        selection = {"since": since, "until": until}
    else:
        return None
    async with db.write() as session:
        rows = await export.select_again(session, **selection)  # type: ignore[arg-type]
        export.log_reexport(session, rows, actor_id, " ".join(args))
    return export.Export(None, rows)


def _stamp() -> str:
    return datetime.now(texts.LOCAL_TZ).strftime("%Y-%m-%d_%H%M")


async def on_export(
    message: Message, command: CommandObject, bot: Bot, db: Database, settings: Settings
) -> None:
    actor = message.from_user.id if message.from_user else None
    result = await run_export(db, actor, (command.args or "").split())
    if result is None:
        await message.answer(texts.EXPORT_USAGE)
        return
    if not result.requests:
        await message.answer(
            texts.EXPORT_NOTHING if not command.args else texts.EXPORT_NOTHING_AGAIN
        )
        return
    name = f"vimis_onko_{'batch' + str(result.batch_id) if result.batch_id else 'again'}_{_stamp()}"
    keyboard = None
    if result.batch_id is not None:
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=texts.btn_granted(result.batch_id),
                        callback_data=GrantCb(batch_id=result.batch_id).pack(),
                    )
                ]
            ]
        )
    # The batch number first: should a file fail to send, `/export N` sends it again.
    await message.answer(
        texts.export_caption(result.batch_id, len(result.requests)), reply_markup=keyboard
    )
    await bot.send_document(
        message.chat.id,
        BufferedInputFile(export.to_xlsx(result.requests), filename=f"{name}.xlsx"),
    )
    await bot.send_document(
        message.chat.id,
        BufferedInputFile(export.to_csv(result.requests), filename=f"{name}.csv"),
    )


async def grant_and_notify(
    bot: Bot, db: Database, settings: Settings, actor_id: int, request_ids: list[int]
) -> tuple[int, int]:
    async with db.write() as session:
        granted = await export.grant(session, request_ids, actor_id)
        await announce_many(session, granted, "granted")  # cards, headers, the applicants
    return len(granted), len(set(request_ids)) - len(granted)


async def on_granted(
    message: Message, command: CommandObject, bot: Bot, db: Database, settings: Settings
) -> None:
    args = (command.args or "").replace(",", " ").split()
    ids: list[int]
    if len(args) == 2 and args[0] == "batch" and args[1].isdigit() and len(args[1]) < 10:
        async with db.read() as session:
            ids = await export.batch_members(session, int(args[1]))
    elif args and all(a.lstrip("№").isdigit() and len(a) < 11 for a in args):
        ids = [int(a.lstrip("№")) for a in args]
    else:
        await message.answer(texts.GRANTED_USAGE)
        return
    actor = message.from_user.id if message.from_user else 0
    done, skipped = await grant_and_notify(bot, db, settings, actor, ids)
    await message.answer(texts.granted_done(done, skipped))


async def on_grant_button(
    query: CallbackQuery,
    callback_data: GrantCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    settings: Settings,
) -> None:
    # A large batch takes longer than Telegram waits for a button's answer: answer now,
    # report the counts as a message.
    await query.answer()
    callback_answer.disable()
    async with db.read() as session:
        ids = await export.batch_members(session, callback_data.batch_id)
    done, skipped = await grant_and_notify(bot, db, settings, query.from_user.id, ids)
    if query.message is not None:
        await bot.send_message(query.message.chat.id, texts.granted_done(done, skipped))


async def on_stats(message: Message, bot: Bot, db: Database) -> None:
    async with db.read() as session:
        figures = await stats.collect(session)
    await message.answer(
        texts.stats(
            figures.by_status,
            figures.by_org,
            figures.by_role,
            figures.median_hours,
            figures.p90_hours,
        )
    )
    if figures.per_day:
        png = await asyncio.to_thread(charts.requests_per_day, figures.per_day)
        await bot.send_photo(message.chat.id, BufferedInputFile(png, "requests_per_day.png"))
    if figures.approved_by_org:
        png = await asyncio.to_thread(charts.organizations_by_users, figures.approved_by_org)
        await bot.send_photo(message.chat.id, BufferedInputFile(png, "organizations.png"))


def coverage_xlsx(organizations: list[tuple[str, str, str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Без пользователей"
    sheet.append(list(texts.COVERAGE_COLUMNS))
    for row in organizations:
        sheet.append(list(row))
    for letter, width in zip("ABC", (28, 80, 40), strict=True):
        sheet.column_dimensions[letter].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def on_coverage(message: Message, bot: Bot, db: Database, settings: Settings) -> None:
    async with db.read() as session:
        total, missing = await stats.uncovered(session, settings.region_name)
    await message.answer(texts.coverage(total, [o.name_short for o in missing], COVERAGE_SHOWN))
    if missing:
        rows = [(o.oid, o.name_full, o.name_short) for o in missing]
        await bot.send_document(
            message.chat.id,
            BufferedInputFile(coverage_xlsx(rows), filename=f"coverage_{_stamp()}.xlsx"),
        )


def oversight_router() -> Router:
    router = Router(name="oversight")
    for observer in (router.message, router.callback_query):
        observer.filter(AdminScope())
        observer.middleware(AdminOnly())
    router.message.register(on_export, Command("export"))
    router.message.register(on_granted, Command("granted"))
    router.message.register(on_stats, Command("stats"))
    router.message.register(on_coverage, Command("coverage"))
    router.callback_query.register(on_grant_button, GrantCb.filter())
    return router
