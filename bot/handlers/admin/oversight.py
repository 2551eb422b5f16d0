"""Export for the federal operator, the access-granted step, statistics and coverage."""

from __future__ import annotations

import asyncio
import io
import re
import tempfile
from datetime import date, datetime
from pathlib import Path

import aiohttp
import rustpy_xlsxwriter as xlsx
from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot import charts, texts
from bot.args import ascii_number
from bot.callbacks import GrantCb
from bot.config import Settings
from bot.outbound.crossing import fetch_file
from db.database import Database
from services import export, org_forms, outbox, staff, stats
from services.accounts import messenger_of

_DATE = re.compile(r"^[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4}$")
COVERAGE_SHOWN = 40


def _date(text: str) -> date | None:
    if not _DATE.match(text):
        return None
    try:
        return datetime.strptime(text, "%d.%m.%Y").date()
    except ValueError:
        return None


def _selection(args: list[str]) -> dict[str, object] | None:
    """What a re-export asked for ({} for all); None when the arguments make no sense."""
    if args == ["all"]:
        return {}
    if len(args) == 1 and (batch := ascii_number(args[0])) is not None:
        return {"batch_id": batch}
    if len(args) == 2 and (since := _date(args[0])) and (until := _date(args[1])):
        return {"since": since, "until": until}
    return None


def _stamp() -> str:
    return datetime.now(texts.LOCAL_TZ).strftime("%Y-%m-%d_%H%M")


async def on_export(
    message: Message, command: CommandObject, bot: Bot, db: Database, settings: Settings
) -> None:
    actor = message.from_user.id if message.from_user else None
    args = (command.args or "").split()
    selection = _selection(args) if args else {}
    if selection is None:
        await message.answer(texts.EXPORT_USAGE)
        return
    batch = selection.get("batch_id")
    if isinstance(batch, int) and not await export.batch_exists(db, batch):
        await message.answer(texts.export_no_batch(batch))
        return
    # The files are read and written off the event loop, into a directory removed afterwards;
    # no transaction stays open while they are sent.
    with tempfile.TemporaryDirectory(prefix="vimis-export-") as tmp:
        if args:
            result = await export.run_again(
                db,
                actor,
                Path(tmp),
                "form",
                " ".join(args),
                journal=settings.erasure_journal,
                **selection,  # type: ignore[arg-type]
            )
        else:
            result = await export.run_new(
                db, actor, Path(tmp), "form", journal=settings.erasure_journal
            )
        if result.files is None:
            nothing = texts.EXPORT_NOTHING if not args else texts.EXPORT_NOTHING_AGAIN
            await message.answer(nothing + texts.export_held_back(result.held_back))
            return
        batch = "batch" + str(result.batch_id) if result.batch_id else "again"
        name = f"vimis_onko_{batch}_{_stamp()}"
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
            texts.export_caption(result.batch_id, result.count)
            + texts.export_held_back(result.held_back),
            reply_markup=keyboard,
        )
        await bot.send_document(
            message.chat.id, FSInputFile(result.files.xlsx, filename=f"{name}.xlsx")
        )
        await bot.send_document(
            message.chat.id, FSInputFile(result.files.csv, filename=f"{name}.csv")
        )


async def grant_and_notify(
    bot: Bot, db: Database, settings: Settings, actor_id: int, request_ids: list[int]
) -> tuple[int, int]:
    async with db.write() as session:
        granted = await export.grant(session, request_ids, actor_id)
        # Cards, topic headers and the applicants' notices, with the change.
        await outbox.follow_requests(session, [(r.id, r.account_id) for r in granted], "granted")
    return len(granted), len(set(request_ids)) - len(granted)


async def on_granted(
    message: Message, command: CommandObject, bot: Bot, db: Database, settings: Settings
) -> None:
    args = (command.args or "").replace(",", " ").split()
    numbers = [ascii_number(a) for a in args]
    ids: list[int]
    if len(args) == 2 and args[0] == "batch" and (batch := numbers[1]) is not None:
        async with db.read() as session:
            ids = await export.batch_members(session, batch)
    elif args and None not in numbers:
        ids = [n for n in numbers if n is not None]
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
    figures = await stats.figures(db)  # the message first; the charts' data after it
    await message.answer(
        texts.stats(
            figures.by_status,
            figures.by_org,
            figures.by_role,
            figures.median_hours,
            figures.p90_hours,
        )
    )
    figures = await stats.chart_data(db, figures)
    if not figures.per_day and not figures.approved_by_org:
        return
    by_period, by_org = await charts.draw(
        figures.per_day, figures.approved_by_org, figures.approved_others
    )
    if by_period is not None:
        await bot.send_photo(message.chat.id, BufferedInputFile(by_period, "requests_per_day.png"))
    if by_org is not None:
        await bot.send_photo(message.chat.id, BufferedInputFile(by_org, "organizations.png"))


def coverage_xlsx(organizations: list[tuple[str, str, str]]) -> bytes:
    """Organisations without users as XLSX (rustpy-xlsxwriter, as the export)."""
    buffer = io.BytesIO()
    xlsx.write_worksheet(
        [dict(zip(texts.COVERAGE_COLUMNS, row, strict=True)) for row in organizations],
        buffer,
        sheet_name="Без пользователей",
        column_widths=[28, 80, 40],
        bold_headers=True,
        freeze_row=1,
    )
    return buffer.getvalue()


async def on_coverage(
    message: Message, bot: Bot, db: Database, settings: Settings, admin: bool = False
) -> None:
    """Organisations without approved users; for an admin (never a viewer), also which
    organisations sent their form signed by the head (item 2.3), and when."""
    total, missing = await stats.uncovered(db, settings.region_name)
    await message.answer(texts.coverage(total, [o.name_short for o in missing], COVERAGE_SHOWN))
    if admin:
        async with db.read() as session:
            latest = await org_forms.latest_by_organization(session)
            names = await staff.organization_names(session, {org for org, _, _ in latest})
        forms = [(names.get(org, "—"), at, number) for org, at, number in latest]
        await message.answer(texts.coverage_signed(forms, COVERAGE_SHOWN))
    if missing:
        rows = [(o.oid, o.name_full, o.name_short) for o in missing]
        await bot.send_document(
            message.chat.id,
            BufferedInputFile(
                await asyncio.to_thread(coverage_xlsx, rows), filename=f"coverage_{_stamp()}.xlsx"
            ),
        )


async def on_orgform(message: Message, command: CommandObject, bot: Bot, db: Database) -> None:
    """/orgform N: the organisation's form signed by its head (item 2.3), as it was sent — to
    admins only (this wing), sent again by its Telegram file ids."""
    number = ascii_number(command.args or "")
    if number is None:
        await message.answer(texts.ORGFORM_USAGE)
        return
    async with db.read() as session:
        form = await org_forms.get(session, number)
        if form is not None:
            names = await staff.organization_names(session, {form.organization_id})
            covered = await org_forms.covered(session, form.id)
    if form is None:
        await message.answer(texts.ORGFORM_NOT_FOUND)
        return
    caption = texts.orgform_caption(
        form.id, names.get(form.organization_id, "—"), form.sent_at, covered
    )
    thread = message.message_thread_id
    sent_on = messenger_of(form.account_id)
    for index, file in enumerate(form.files):
        shown = caption if index == 0 else None
        photo = file.get("kind") == org_forms.PHOTO
        upload: str | BufferedInputFile = file["file_id"]
        if sent_on is not messenger_of(message.chat.id):
            # A file id is good on its own messenger only: a form sent on MAX, asked for in
            # the admins' Telegram group (the default when MAX applicants have no MAX desk),
            # is fetched by the address MAX gave with it and uploaded here (order item 2.3).
            data = await _fetched(bot, file)
            if data is None:
                await message.answer(
                    texts.orgform_elsewhere(form.id, texts.MESSENGER_NAMES[sent_on])
                )
                return
            name = "photo.jpg" if photo else f"orgform_{form.id}_{index + 1}.pdf"
            upload = BufferedInputFile(data, filename=name)
        if photo:
            await bot.send_photo(message.chat.id, upload, caption=shown, message_thread_id=thread)
        else:
            await bot.send_document(
                message.chat.id, upload, caption=shown, message_thread_id=thread
            )


async def _fetched(bot: Bot, file: dict[str, str]) -> bytes | None:
    """A page of a signed form from the other messenger, if it can be had (a MAX file by its
    download address; a Telegram file only Telegram's bot could fetch)."""
    if not file.get("url"):
        return None
    try:
        return await fetch_file(bot, {"file": dict(file)})
    except (aiohttp.ClientError, TimeoutError):
        return None


def oversight_router() -> Router:
    router = Router(name="oversight")
    router.message.register(on_export, Command("export"))
    router.message.register(on_granted, Command("granted"))
    router.message.register(on_orgform, Command("orgform"))
    # /stats and /coverage: bot/handlers/viewers/ (viewers may use them too).
    router.callback_query.register(on_grant_button, GrantCb.filter())
    return router
