"""/broadcast for admins: pick the audience, type the text (a reply to the bot's prompt),
see a preview with the count, confirm; sent through the outbox once per person
(services/broadcast.py). `/broadcast status`: delivered / blocked / pending of the latest."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject, Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import (
    CallbackQuery,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot import texts
from bot.filters import replies_to_bot
from bot.handlers.admin import AdminOnly, AdminScope
from bot.reminders import unfinished_dialogs
from db.database import Database
from services import broadcast
from services.broadcast import Audience


class BroadcastCb(CallbackData, prefix="bc"):
    action: str  # aud | send | cancel
    value: str  # the audience, or the broadcast's number


def _audiences() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=label, callback_data=BroadcastCb(action="aud", value=key).pack()
                )
            ]
            for key, label in texts.BROADCAST_AUDIENCES.items()
        ]
    )


def _confirm(broadcast_id: int) -> InlineKeyboardMarkup:
    value = str(broadcast_id)
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=texts.BTN_BROADCAST_SEND,
                    callback_data=BroadcastCb(action="send", value=value).pack(),
                ),
                InlineKeyboardButton(
                    text=texts.BTN_BROADCAST_CANCEL,
                    callback_data=BroadcastCb(action="cancel", value=value).pack(),
                ),
            ]
        ]
    )


async def _people(db: Database, storage: BaseStorage, audience: Audience) -> list[int]:
    in_dialog = await unfinished_dialogs(storage) if audience == Audience.DRAFTS else None
    async with db.read() as session:
        return await broadcast.recipients(session, audience, in_dialog)


async def on_broadcast(message: Message, command: CommandObject, db: Database) -> None:
    if (command.args or "").strip().lower() == "status":
        async with db.read() as session:
            rows = await broadcast.status(session)
        await message.answer(
            texts.broadcast_status(
                [
                    (
                        c.broadcast_id,
                        c.audience,
                        c.sent_at[:16].replace("T", " ") + " UTC",
                        c.total,
                        c.delivered,
                        c.blocked,
                        c.pending,
                        c.lost,
                    )
                    for c in rows
                ]
            )
        )
        return
    await message.answer(texts.BROADCAST_PICK, reply_markup=_audiences())


async def on_button(
    query: CallbackQuery,
    callback_data: BroadcastCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    fsm_storage: BaseStorage,
) -> None:
    if not isinstance(query.message, Message):
        callback_answer.text = texts.BROADCAST_STALE
        return
    chat_id = query.message.chat.id
    if callback_data.action == "aud":
        try:
            audience = Audience(callback_data.value)
        except ValueError:
            callback_answer.text = texts.BROADCAST_STALE
            return
        async with db.write() as session:
            await broadcast.start(session, query.from_user.id, chat_id, audience)
        # The mention makes the selective ForceReply open the reply box for this admin only.
        who = texts.mention(query.from_user.id, query.from_user.full_name)
        await bot.send_message(
            chat_id,
            texts.addressed(who, texts.BROADCAST_ASK_TEXT),
            reply_markup=ForceReply(force_reply=True, selective=True),
            message_thread_id=query.message.message_thread_id,
        )
        return
    if not callback_data.value.isdigit():
        callback_answer.text = texts.BROADCAST_STALE
        return
    broadcast_id = int(callback_data.value)
    if callback_data.action == "cancel":
        async with db.write() as session:
            done = await broadcast.cancel(session, broadcast_id)
        callback_answer.text = texts.BROADCAST_CANCELLED if done else texts.BROADCAST_STALE
        if done:
            await bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=query.message.message_id, reply_markup=None
            )
        return
    if callback_data.action != "send":
        callback_answer.text = texts.BROADCAST_STALE
        return
    async with db.read() as session:
        draft = await broadcast.get(session, broadcast_id)
    if draft is None or draft.state != broadcast.State.PREVIEW.value:
        callback_answer.text = texts.BROADCAST_STALE
        return
    people = await _people(db, fsm_storage, Audience(draft.audience))
    async with db.write() as session:
        count = await broadcast.send(session, broadcast_id, people)
    if count is None:  # a second press, or another admin, was first
        callback_answer.text = texts.BROADCAST_STALE
        return
    await bot.edit_message_reply_markup(
        chat_id=chat_id, message_id=query.message.message_id, reply_markup=None
    )
    await bot.send_message(
        chat_id,
        texts.broadcast_queued(broadcast_id, count) if count else texts.BROADCAST_NOBODY,
        message_thread_id=query.message.message_thread_id,
    )


PROMPTS = (texts.BROADCAST_ASK_TEXT, texts.BROADCAST_NEED_TEXT, texts.BROADCAST_TOO_LONG)


class AwaitingText(Filter):
    """A reply to the bot's prompt, by an admin who has a draft waiting for its text here.
    Cheap checks first: only a reply to the bot costs a database read."""

    async def __call__(self, message: Message, bot: Bot, db: Database) -> bool:
        reply = message.reply_to_message
        if (
            not replies_to_bot(message, bot.id)
            or message.from_user is None
            or reply is None
            or not (reply.text or "").endswith(PROMPTS)
        ):
            return False
        async with db.read() as session:
            draft = await broadcast.waiting_for_text(session, message.from_user.id, message.chat.id)
        return draft is not None


async def on_text(message: Message, db: Database, fsm_storage: BaseStorage) -> None:
    assert message.from_user is not None
    text = (message.text or "").strip()
    if not text:
        await message.reply(texts.BROADCAST_NEED_TEXT, reply_markup=ForceReply(selective=True))
        return
    if len(text) > broadcast.MAX_TEXT:
        await message.reply(texts.BROADCAST_TOO_LONG, reply_markup=ForceReply(selective=True))
        return
    async with db.write() as session:
        draft = await broadcast.waiting_for_text(session, message.from_user.id, message.chat.id)
        if draft is None or not await broadcast.set_text(session, draft.id, text):
            await message.reply(texts.BROADCAST_STALE)
            return
        broadcast_id, audience = draft.id, Audience(draft.audience)
    count = len(await _people(db, fsm_storage, audience))
    await message.answer(
        texts.broadcast_preview(audience.value, count, text), reply_markup=_confirm(broadcast_id)
    )


def broadcast_router() -> Router:
    router = Router(name="broadcast")
    for observer in (router.message, router.callback_query):
        observer.filter(AdminScope())
        observer.middleware(AdminOnly())
    router.message.register(on_broadcast, Command("broadcast"))
    router.message.register(on_text, AwaitingText())
    router.callback_query.register(on_button, BroadcastCb.filter())
    return router
