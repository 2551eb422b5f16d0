"""Anyone may ask to become the responsible person of an organisation (order No 922, item
2.1): `/responsible words` finds it in the directory; the head's appointment is asked for
(the number and date of the order or letter, typed, then a scan if there is one), a button
files the application; an admin answers it (bot/handlers/admin/staff.py)."""

from __future__ import annotations

import contextlib
import re
from datetime import timedelta

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import (
    CallbackQuery,
    Document,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    PhotoSize,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot import keyboards, prompts, texts
from bot.callbacks import RespAction, RespCb
from bot.config import Settings
from bot.outbound.org_desk import (
    enqueue_application,
    org_name,
)
from db.database import Database
from services import org_confirmation, organizations, staff
from services.staff import Application

# The head's appointment (item 2.1), typed, then its scan if there is one.
APPOINTMENT = prompts.kind(
    "appointment",
    timedelta(hours=24),
    texts.APPOINTMENT_LIMIT,
    texts.APPOINTMENT_TOO_LONG,
    texts.APPOINTMENT_EMPTY,
)


async def on_responsible(
    message: Message, command: CommandObject, db: Database, settings: Settings
) -> None:
    words = (command.args or "").strip()
    if not words:
        await message.answer(texts.RESPONSIBLE_HOW)
        return
    async with db.read() as session:
        found = await organizations.search(session, settings.region_name, words)
    if not found.items:
        await message.answer(texts.RESPONSIBLE_NONE)
        return
    keyboard = [
        [
            InlineKeyboardButton(
                text=keyboards.short(org.name_short or org.name_full),
                callback_data=RespCb(action=RespAction.PICK, org_id=org.id).pack(),
            )
        ]
        for org in found.items
    ]
    await message.answer(
        texts.responsible_found(found.total, len(found.items)),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=keyboard),
    )


async def on_pick(
    query: CallbackQuery,
    callback_data: RespCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    fsm_storage: BaseStorage,
) -> None:
    """The organisation chosen: the head's appointment is asked for (item 2.1), the next
    message is it (`bot.prompts`)."""
    message = query.message if isinstance(query.message, Message) else None
    if message is None:
        callback_answer.text = texts.STALE_BUTTON
        return
    async with db.read() as session:
        organization = await org_confirmation.organization(session, callback_data.org_id)
    if organization is None:
        callback_answer.text = texts.STALE_BUTTON
        return
    with contextlib.suppress(TelegramBadRequest):
        await message.edit_reply_markup(reply_markup=None)
    await prompts.ask(
        bot,
        fsm_storage,
        message.chat.id,
        query.from_user,
        APPOINTMENT,
        texts.APPOINTMENT_PROMPT,
        {"org_id": organization.id, "org": org_name(organization)},
    )


def _send_button(org_id: int, scan: bool) -> InlineKeyboardMarkup:
    send = InlineKeyboardButton(
        text=texts.BTN_APPLICATION_SEND if scan else texts.BTN_APPLICATION_SEND_NO_SCAN,
        callback_data=RespCb(action=RespAction.SEND, org_id=org_id).pack(),
    )
    return InlineKeyboardMarkup(inline_keyboard=[[send]])


def _has_date(text: str) -> bool:
    """A date as people write one in an order's details: 12.09.2022, 12.09.22, 2022-09-12."""
    return re.search(r"\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b", text) is not None


async def on_appointment(
    message: Message, prompt: prompts.Prompt, answer: str, bot: Bot, fsm_storage: BaseStorage
) -> None:
    """First the number and date of the head's order or letter (typed), then, if there is
    one, its scan (a PDF or a photo); anything else gets the step's own words again."""
    if message.from_user is None:
        return
    org_id = int(prompt.data.get("org_id") or 0)
    if not prompt.data.get("appointment"):
        typed = " ".join(answer.split())
        refused = prompts.refusal(prompt, typed)
        if refused is None and not _has_date(typed):
            refused = texts.APPOINTMENT_NEEDS_DATE
        if refused is not None:
            await prompts.ask_again(message, fsm_storage, bot, prompt, refused)
            return
        prompt.data["appointment"] = typed
        await prompts.keep(fsm_storage, bot, message.chat.id, message.from_user.id, prompt)
        await message.answer(texts.APPOINTMENT_SCAN, reply_markup=_send_button(org_id, False))
        return
    file: PhotoSize | Document
    if message.photo:
        kind, file = "photo", message.photo[-1]
    elif message.document is not None:
        kind, file = "document", message.document
    else:
        await message.answer(
            texts.APPOINTMENT_SCAN_NEEDED, reply_markup=_send_button(org_id, False)
        )
        return
    # On MAX, also the address MAX gives to download the file: an admins' group on the
    # other messenger cannot take a MAX file by its id (bot/outbound/org_desk.py).
    url = (file.model_extra or {}).get("url")
    prompt.data["scan"] = [kind, file.file_id, *([str(url)] if url else [])]
    await prompts.keep(fsm_storage, bot, message.chat.id, message.from_user.id, prompt)
    await message.answer(
        texts.application_confirm(
            str(prompt.data.get("org") or ""), str(prompt.data["appointment"]), True
        ),
        reply_markup=_send_button(org_id, True),
    )


async def on_cancel_appointment(message: Message, bot: Bot, fsm_storage: BaseStorage) -> None:
    if message.from_user is not None:
        await prompts.forget(fsm_storage, bot, message.chat.id, message.from_user.id)
    await message.answer(texts.APPOINTMENT_CANCELLED)


async def on_send(
    query: CallbackQuery,
    callback_data: RespCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    settings: Settings,
    fsm_storage: BaseStorage,
) -> None:
    """File the application (one open application per person) with the appointment typed
    and the scan sent, if any, kept in the prompt until now."""
    user = query.from_user
    message = query.message if isinstance(query.message, Message) else None
    chat_id = message.chat.id if message is not None else user.id
    prompt = await prompts.pending(fsm_storage, bot, chat_id, user.id)
    appointment = prompt.data.get("appointment") if prompt is not None else None
    if (
        prompt is None
        or prompt.kind != APPOINTMENT.name
        or int(prompt.data.get("org_id") or 0) != callback_data.org_id
        or not appointment
    ):
        callback_answer.text = texts.STALE_BUTTON
        return
    scan = prompt.data.get("scan")
    async with db.write() as session:
        if await org_confirmation.organization(session, callback_data.org_id) is None:
            callback_answer.text = texts.STALE_BUTTON
            return
        outcome, application_id = await staff.apply_responsible(
            session,
            user.id,
            user.full_name,
            callback_data.org_id,
            str(appointment),
            (str(scan[0]), str(scan[1])) if scan else None,
        )
        if application_id is not None:
            scan_url = str(scan[2]) if scan and len(scan) > 2 else None
            await enqueue_application(session, settings, application_id, scan_url)
    await prompts.forget(fsm_storage, bot, chat_id, user.id)
    callback_answer.show_alert = True
    callback_answer.text = {
        Application.FILED: texts.APPLICATION_FILED,
        Application.ALREADY_PENDING: texts.APPLICATION_PENDING,
        Application.ALREADY_STAFF: texts.APPLICATION_ALREADY_STAFF,
    }[outcome]
    if message is not None and outcome is Application.FILED:
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_reply_markup(reply_markup=None)


def responsible_router() -> Router:
    router = Router(name="responsible")
    router.message.register(
        on_cancel_appointment, Command("cancel"), prompts.PendingPrompt(APPOINTMENT)
    )
    router.message.register(on_appointment, prompts.AnswersPrompt(APPOINTMENT))
    router.message.register(on_responsible, Command("responsible"))
    router.callback_query.register(on_pick, RespCb.filter(F.action == RespAction.PICK))
    router.callback_query.register(on_send, RespCb.filter(F.action == RespAction.SEND))
    return router
