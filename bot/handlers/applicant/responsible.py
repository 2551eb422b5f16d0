"""Anyone may ask to become the responsible person of an organisation (order No 922, item
2.1): `/responsible words` finds it in the directory, a button shows what will be sent, a
second files the application; an admin answers it (bot/handlers/admin/staff.py)."""

from __future__ import annotations

import contextlib

from aiogram import F, Router
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
from bot.callbacks import RespAction, RespCb
from bot.config import Settings
from bot.outbound.org_desk import (
    enqueue_application,
    org_name,
)
from db.database import Database
from services import org_confirmation, organizations, staff
from services.staff import Application


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
    db: Database,
) -> None:
    """Show what will be sent, with the button that sends it."""
    message = query.message if isinstance(query.message, Message) else None
    if message is None:
        callback_answer.text = texts.STALE_BUTTON
        return
    async with db.read() as session:
        organization = await org_confirmation.organization(session, callback_data.org_id)
    if organization is None:
        callback_answer.text = texts.STALE_BUTTON
        return
    send = InlineKeyboardButton(
        text=texts.BTN_APPLICATION_SEND,
        callback_data=RespCb(action=RespAction.SEND, org_id=callback_data.org_id).pack(),
    )
    with contextlib.suppress(TelegramBadRequest):
        await message.edit_text(
            texts.application_confirm(org_name(organization)),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[send]]),
        )


async def on_send(
    query: CallbackQuery,
    callback_data: RespCb,
    callback_answer: CallbackAnswer,
    db: Database,
    settings: Settings,
) -> None:
    """File the application (one open application per person)."""
    user = query.from_user
    message = query.message if isinstance(query.message, Message) else None
    async with db.write() as session:
        if await org_confirmation.organization(session, callback_data.org_id) is None:
            callback_answer.text = texts.STALE_BUTTON
            return
        outcome, application_id = await staff.apply_responsible(
            session, user.id, user.full_name, callback_data.org_id
        )
        if application_id is not None:
            await enqueue_application(session, settings, application_id)
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
    router.message.register(on_responsible, Command("responsible"))
    router.callback_query.register(on_pick, RespCb.filter(F.action == RespAction.PICK))
    router.callback_query.register(on_send, RespCb.filter(F.action == RespAction.SEND))
    return router
