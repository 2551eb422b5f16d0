"""Admins finding requests: /queue (waiting for a decision, oldest first), /find (by SNILS,
e-mail or words), /req (a request's card), /history (its event log). Every view of a
person's data is an audit event (152-FZ: who viewed the record)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot import keyboards, texts
from bot.args import ascii_number
from bot.callbacks import QueueAction, QueueCb
from bot.config import Settings
from bot.outbound.cards import (
    post_card,
)
from db.database import Database
from db.models import AccessRequest, RequestEvent
from db.repositories import EventRepository, Listed, RequestRepository
from services import audit, staff
from services.consent import PERSONAL_COLUMNS
from services.requests import Status
from services.snils import format_snils
from services.text_search import query_words

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


QUEUE_PAGE = 8


OPEN_STATUSES = (Status.SUBMITTED.value,)


def _list_keyboard(rows: Sequence[Listed], page: int, pages: int) -> InlineKeyboardMarkup:
    keyboard = [
        [
            InlineKeyboardButton(
                text=keyboards.short(
                    texts.queue_item(r.id, r.submitted_at, r.org_short_name or r.org_full_name)
                ),
                callback_data=QueueCb(action=QueueAction.OPEN, value=r.id).pack(),
            )
        ]
        for r in rows
    ]
    nav = []
    if page > 0:
        nav.append(
            InlineKeyboardButton(
                text="◀️", callback_data=QueueCb(action=QueueAction.PAGE, value=page - 1).pack()
            )
        )
    if page < pages - 1:
        nav.append(
            InlineKeyboardButton(
                text="▶️", callback_data=QueueCb(action=QueueAction.PAGE, value=page + 1).pack()
            )
        )
    if nav:
        keyboard.append(nav)
    return InlineKeyboardMarkup(inline_keyboard=keyboard)


async def _queue_view(db: Database, page: int) -> tuple[str, InlineKeyboardMarkup]:
    async with db.read() as session:
        rows, total = await RequestRepository(session).queue(
            OPEN_STATUSES, limit=QUEUE_PAGE, offset=page * QUEUE_PAGE
        )
    pages = max(1, -(-total // QUEUE_PAGE))
    return texts.queue_page(total, page, pages), _list_keyboard(rows, page, pages)


async def on_queue(message: Message, db: Database) -> None:
    text, keyboard = await _queue_view(db, 0)
    await message.answer(text, reply_markup=keyboard)


async def open_card(
    bot: Bot,
    db: Database,
    settings: Settings,
    admin_id: int,
    chat_id: int,
    request_id: int,
    via: str = "req",
) -> bool:
    async with db.write() as session:
        if await session.get(AccessRequest, request_id) is None:
            return False
        await audit.record_views(session, [request_id], actor_id=admin_id, via=via)
    await post_card(bot, db, settings, request_id, chat_ids=[chat_id])
    return True


async def on_queue_page(
    query: CallbackQuery, callback_data: QueueCb, callback_answer: CallbackAnswer, db: Database
) -> None:
    if not isinstance(query.message, Message):
        callback_answer.text = texts.STALE_BUTTON
        return
    text, keyboard = await _queue_view(db, max(0, callback_data.value))
    with contextlib.suppress(TelegramBadRequest):  # pressed twice: already this page
        await query.message.edit_text(text, reply_markup=keyboard)


async def on_queue_open(
    query: CallbackQuery,
    callback_data: QueueCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    settings: Settings,
) -> None:
    if not isinstance(query.message, Message):
        callback_answer.text = texts.STALE_BUTTON
        return
    chat_id = query.message.chat.id
    if not await open_card(
        bot, db, settings, query.from_user.id, chat_id, callback_data.value, "list"
    ):
        callback_answer.text = texts.REQUEST_NOT_FOUND


def _number(command: CommandObject) -> int | None:
    return ascii_number(command.args or "")


async def on_req(
    message: Message, command: CommandObject, bot: Bot, db: Database, settings: Settings
) -> None:
    number = _number(command)
    if number is None:
        await message.answer(texts.REQ_USAGE)
        return
    admin_id = message.from_user.id if message.from_user else 0
    if not await open_card(bot, db, settings, admin_id, message.chat.id, number):
        await message.answer(texts.REQUEST_NOT_FOUND)


async def on_history(message: Message, command: CommandObject, db: Database) -> None:
    number = _number(command)
    if number is None:
        await message.answer(texts.HISTORY_USAGE)
        return
    async with db.read() as session:
        request = await session.get(AccessRequest, number)
        if request is not None:
            events = await EventRepository(session).for_request(number)
            exports = await audit.exports_of(session, {number: request.created_at})
            actors = {e.actor_id for e in events} | {x.actor_id for x in exports}
            names = await staff.names(session, {a for a in actors if a})
    if request is None:
        await message.answer(texts.REQUEST_NOT_FOUND)
        return
    lines: list[tuple[datetime, str]] = []
    for event in events:
        who = names.get(event.actor_id or 0) or (
            "заявитель"
            if event.action in ("created", "resubmitted", "consent_withdrawn", "erased")
            else texts.staff_name(event.actor_id, names)
        )
        details = event.details or {}
        extra = [
            texts.change_detail(field, old, new)
            for field, (old, new) in details.get("changes", {}).items()
        ]
        if details.get("fields") and event.action == "returned":
            fields = [texts.RETURN_FIELD_NAMES.get(f, f) for f in details["fields"]]
            extra.append(texts.fields_detail(fields))
        if details.get("reason"):
            extra.append(texts.reason_detail(str(details["reason"])))
        if event.action == audit.VIEWED:
            extra.append(texts.view_via(str(details.get("via") or "")))
            if event.actor_id is None:
                who = texts.VIEW_SERVER if details.get("cli") else texts.VIEW_NOBODY
        if event.action == "erased" and details.get("rule"):
            who = texts.ERASED_BY_RULE
        lines.append((event.at, texts.history_line(event.at, who, event.action, extra)))
    lines += [(x.at, _export_line(x, names)) for x in exports]
    lines.sort(key=lambda line: line[0])  # stable: events at one time keep their order
    if _shows_personal_values(events):
        # A correction's old → new SNILS, name or e-mail is the person's full data: a view.
        async with db.write() as session:
            viewer = message.from_user.id if message.from_user else None
            await audit.record_views(session, [number], actor_id=viewer, via="history")
    await message.answer(_fit(texts.history(number, [text for _, text in lines])))


def _export_line(export: audit.ExportSeen, names: dict[int, str]) -> str:
    """An export that carried the request (its audit row): a new batch's files showed it, as
    a view beside the request's `exported` event; a re-export is its own line."""
    if export.actor_id is None:
        who = texts.VIEW_SERVER if export.cli else texts.VIEW_NOBODY
    else:
        who = names.get(export.actor_id) or texts.staff_name(export.actor_id, names)
    if export.new_batch:
        return texts.history_line(export.at, who, audit.VIEWED, [texts.view_via(audit.VIA_EXPORT)])
    details = [texts.view_via(audit.VIA_EXPORT), texts.export_selection(export.selection)]
    return texts.history_line(export.at, who, "reexported", details)


def _shows_personal_values(events: Sequence[RequestEvent]) -> bool:
    return any(
        field in PERSONAL_COLUMNS
        for event in events
        for field in (event.details or {}).get("changes", {})
    )


def _fit(text: str, limit: int = 4000) -> str:
    """Keep the newest part of a long history within Telegram's message limit."""
    if len(text) <= limit:
        return text
    head, _, body = text.partition("\n\n")
    lines = body.split("\n")
    while lines and len(head) + 7 + len("\n".join(lines)) > limit:
        lines.pop(0)
    return head + "\n\n…\n" + "\n".join(lines)


async def on_find(message: Message, command: CommandObject, db: Database) -> None:
    """A SNILS and an e-mail are looked up by their indexes; words through the word index."""
    query = (command.args or "").strip()
    words = query_words(query)
    digits = "".join(ch for ch in query if ch.isascii() and ch.isdigit())
    snils_typed = len(digits) >= 9 and len(digits) == sum(ch.isalnum() for ch in query)
    if snils_typed:
        words = [digits]  # a SNILS typed with separators
    if not words:
        await message.answer(texts.FIND_USAGE)
        return
    # The look-up and the audit of what it showed in one transaction, as a card's opening
    # (`open_card`): a session of its own costs more than the look-up (docs/performance.md).
    async with db.write() as session:
        repository = RequestRepository(session)
        rows: list[Listed] = []
        if snils_typed and len(digits) == 11:
            rows = await repository.by_snils(format_snils(digits), limit=QUEUE_PAGE)
        elif _EMAIL.fullmatch(query):
            rows = await repository.by_email(query, limit=QUEUE_PAGE)
        if not rows:
            rows = await repository.search(words, limit=QUEUE_PAGE)
        await audit.record_views(
            session,
            [r.id for r in rows],
            actor_id=message.from_user.id if message.from_user else None,
            via="find",
        )
    await message.answer(texts.found(len(rows)), reply_markup=_list_keyboard(rows, 0, 1))


def lists_router() -> Router:
    router = Router(name="lists")
    router.message.register(on_queue, Command("queue"))
    router.message.register(on_find, Command("find"))
    router.message.register(on_req, Command("req"))
    router.message.register(on_history, Command("history"))
    router.callback_query.register(on_queue_page, QueueCb.filter(F.action == QueueAction.PAGE))
    router.callback_query.register(on_queue_open, QueueCb.filter(F.action == QueueAction.OPEN))
    return router
