"""МИАЦ operators in the support chat: answering, notes, closing, the FAQ, open tickets.

Operators are staff with the operator role; admins act as operators too. Messages of other
members of the support chat are ignored; their commands and button presses get «Нет доступа».
"""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot import keyboards, texts
from bot.callbacks import FaqCb, RateCb
from bot.config import Settings
from bot.filters import HasContent
from bot.fsm.question import faq_entries
from bot.outbound.crossing import content_of
from bot.outbound.outreach import fill_faq
from bot.outbound.support_desk import enqueue_answer, enqueue_text_to_applicant
from bot.outbound.support_threads import thread_context
from db.database import Database
from db.models import AccessRequest, SupportThread, utcnow
from services import support
from services.support import find_faq

TICKETS_SHOWN = 25  # titles are up to 128 characters: 25 fit one message


async def _thread_here(message: Message, db: Database) -> SupportThread | None:
    async with db.read() as session:
        if message.message_thread_id is not None and message.is_topic_message:
            return await support.thread_in_topic(
                session, message.chat.id, message.message_thread_id
            )
        reply = message.reply_to_message
        if reply is not None:
            relayed = await support.relay_by_support_message(
                session, message.chat.id, reply.message_id
            )
            if relayed is not None:
                return await support.thread_of(session, relayed.user_id)
            # Without topics, the thread's header heads its chain of replies.
            return await support.thread_by_header(session, message.chat.id, reply.message_id)
    return None


async def on_operator_message(message: Message, bot: Bot, db: Database, settings: Settings) -> None:
    text = message.text or message.caption or ""
    if text.startswith("//"):
        return  # an internal note for colleagues
    if text.startswith("/"):
        return  # a command (a typo, or another bot's): never sent to the applicant
    thread = await _thread_here(message, db)
    if thread is not None:  # copied to the applicant by the outbox (blocked: told here)
        async with db.write() as session:
            enqueue_answer(
                session, thread, message.chat.id, message.message_id, content_of(message)
            )
            await support.answered(session, thread.user_id)
        return
    reply = message.reply_to_message
    if reply is not None and reply.from_user is not None and reply.from_user.is_bot:
        # A reply to one of the bot's messages is meant for someone; when that message is
        # not a consultation's (a header posted twice after a dropped connection, a note of
        # the bot's own), the operator is told at once instead of the answer being lost.
        await message.reply(texts.ANSWER_NOT_LINKED)


async def on_close(message: Message, bot: Bot, db: Database, settings: Settings) -> None:
    thread = await _thread_here(message, db)
    if thread is None:
        await message.reply(texts.NOT_A_THREAD)
        return
    rating = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=str(n), callback_data=RateCb(rating=n).pack())
                for n in range(1, 6)
            ]
        ]
    )
    async with db.write() as session:
        changed = await support.set_status(session, thread.user_id, "closed")
        if changed:  # the applicant is asked for a rating (blocked: the topic is told)
            enqueue_text_to_applicant(session, thread.user_id, texts.APPLICANT_CLOSED, rating)
    if not changed:
        await message.reply(texts.THREAD_ALREADY)
        return
    await message.reply(texts.THREAD_CLOSED)


async def on_reopen(message: Message, db: Database) -> None:
    thread = await _thread_here(message, db)
    if thread is None:
        await message.reply(texts.NOT_A_THREAD)
        return
    async with db.write() as session:
        changed = await support.set_status(session, thread.user_id, "open")
    await message.reply(texts.THREAD_REOPENED if changed else texts.THREAD_ALREADY)


async def on_faq_command(message: Message, db: Database, settings: Settings) -> None:
    thread = await _thread_here(message, db)
    if thread is None:
        await message.reply(texts.NOT_A_THREAD)
        return
    entries = faq_entries(settings)
    if not entries:
        await message.reply(texts.FAQ_EMPTY)
        return
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=keyboards.short(entry.question),
                    callback_data=FaqCb(index=i, user_id=thread.user_id, key=entry.key).pack(),
                )
            ]
            for i, entry in enumerate(entries)
        ]
    )
    await message.reply(texts.FAQ_PICK, reply_markup=keyboard)


async def on_faq_button(
    query: CallbackQuery,
    callback_data: FaqCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    settings: Settings,
) -> None:
    entry = find_faq(faq_entries(settings), callback_data.index, callback_data.key)
    if entry is None or callback_data.user_id == 0:
        callback_answer.text = texts.STALE_BUTTON
        return
    answer = await fill_faq(db, entry.answer)
    picker = query.message if isinstance(query.message, Message) else None
    origin = (picker.chat.id, picker.message_id) if picker else (settings.support_chat_id or 0, 0)
    async with db.write() as session:
        # Labelled and answerable like an operator's own answer.
        enqueue_text_to_applicant(
            session, callback_data.user_id, texts.OPERATOR_ANSWER_LABEL, answer_of=origin
        )
        enqueue_text_to_applicant(
            session,
            callback_data.user_id,
            texts.faq_answer(entry.question, answer),
            keyboards.answer_keyboard(),
            answer_of=origin,
        )
        await support.answered(session, callback_data.user_id)
    if isinstance(query.message, Message):
        await query.message.edit_text(texts.faq_sent(entry.question))


async def on_thread(message: Message, command: CommandObject, bot: Bot, db: Database) -> None:
    """/thread N (a request's number) or /thread as a reply: one person's consultation — its
    header again, its state, and (in a group without topics) a reply to where it begins."""
    args = (command.args or "").strip().lstrip("№").strip()
    if args and not args.isdigit():
        await message.reply(texts.THREAD_USAGE)
        return
    if args:
        async with db.read() as session:
            request = await session.get(AccessRequest, int(args))
            account = request.account_id if request is not None else 0
            thread = await support.thread_of(session, account) if account else None
        if thread is None:
            await message.reply(texts.THREAD_NOT_FOUND)
            return
    else:
        thread = await _thread_here(message, db)
        if thread is None:
            await message.reply(texts.THREAD_USAGE)
            return
    async with db.read() as session:
        relayed = await support.relayed_count(session, thread.user_id)
    _, header = await thread_context(db, thread.user_id, thread.title)
    waited = (
        (utcnow() - thread.waiting_since).total_seconds() / 3600 if thread.waiting_since else None
    )
    here = thread.chat_id == message.chat.id and thread.header_message_id is not None
    text = texts.thread_summary(header, thread.status, texts.waiting_for(waited), relayed, here)
    if here and thread.header_message_id is not None:
        reply = ReplyParameters(
            message_id=thread.header_message_id, allow_sending_without_reply=True
        )
        await bot.send_message(
            message.chat.id, text, reply_parameters=reply, message_thread_id=thread.topic_id
        )
        return
    await message.reply(text)


async def on_tickets(message: Message, db: Database, settings: Settings) -> None:
    async with db.read() as session:
        threads = await support.open_threads(session)
    # This group's own: with several groups (SUPPORT_EXTRA_CHAT_IDS, or MAX's beside
    # Telegram's) a thread is answered only in its group; one whose group was taken out of
    # the settings is listed where it will go.
    here = message.chat.id
    threads = [t for t in threads if settings.support_desk_of(t.user_id, t.chat_id) == here]
    now = utcnow()
    rows = [
        (
            texts.thread_name(t.title),
            texts.waiting_for(
                (now - t.waiting_since).total_seconds() / 3600 if t.waiting_since else None
            ),
        )
        for t in threads[:TICKETS_SHOWN]
    ]
    await message.reply(texts.tickets(rows, more=max(0, len(threads) - TICKETS_SHOWN)))


def operators_router() -> Router:
    router = Router(name="operators")
    router.message.register(on_tickets, Command("tickets"))
    router.message.register(on_thread, Command("thread"))
    router.message.register(on_close, Command("close"))
    router.message.register(on_reopen, Command("reopen"))
    router.message.register(on_faq_command, Command("faq"))
    router.message.register(on_operator_message, HasContent())
    router.callback_query.register(on_faq_button, FaqCb.filter())
    return router
