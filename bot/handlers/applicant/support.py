"""Questions from applicants to МИАЦ (order item 4.4), the applicant's side: the question
itself, the FAQ's answers, an edited question, the rating after a consultation. The flow
they belong to: `bot.fsm.question`.
Operators' side: `bot.handlers.support_chat`.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot import keyboards, texts
from bot.callbacks import AskThisCb, FaqCb, RateCb
from bot.config import Settings
from bot.fsm.question import (
    REPLY_KEY,
    QuestionFlow,
    faq_entries,
    leave_question,
    relay,
    relay_kept,
    take_loose,
)
from bot.outbound import support_desk
from bot.outbound.outreach import fill_faq
from db.database import Database
from services import support
from services.support import WorkingHours, find_faq

log = logging.getLogger(__name__)


async def _after_hours_note(message: Message, settings: Settings) -> None:
    hours = WorkingHours.parse(settings.support_hours, settings.support_days)
    now = datetime.now(texts.LOCAL_TZ)
    if not hours.open_at(now):
        await message.answer(texts.out_of_hours(hours.next_opening(now)))


async def on_question(
    message: Message, state: FSMContext, bot: Bot, db: Database, settings: Settings
) -> None:
    if message.from_user is None:
        return
    data = await state.get_data()
    step, is_reply = data.get("question_step"), bool(data.get(REPLY_KEY))
    delivered = await relay(message, bot, db, settings, step)
    previous = await leave_question(state)
    if not delivered:
        await message.answer(texts.ASK_UNAVAILABLE)
        return
    # A reply to a specialist goes on with the consultation: said so, without the
    # out-of-hours notice the question itself already had.
    sent = texts.REPLY_SENT if is_reply else texts.ASK_SENT
    if previous is not None:
        await message.answer(
            f"{sent}\n\n{texts.ASK_RESUME}",
            reply_markup=keyboards.single(texts.BTN_CONTINUE, "resume"),
        )
    else:
        await message.answer(sent, reply_markup=keyboards.main_menu())
    if not is_reply:
        await _after_hours_note(message, settings)


async def on_ask_this(
    query: CallbackQuery,
    callback_data: AskThisCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    db: Database,
    settings: Settings,
) -> None:
    """«📨 Передать вопрос специалисту» under a message typed outside any dialog: that
    message goes to МИАЦ as a question, as it was typed."""
    pressed = query.message if isinstance(query.message, Message) else None
    question = await take_loose(state, callback_data.message_id)
    if pressed is None or question is None:
        callback_answer.text = texts.STALE_BUTTON
        return
    with contextlib.suppress(TelegramBadRequest):
        await pressed.edit_reply_markup(reply_markup=None)
    if not await relay_kept(db, settings, query.from_user, question, None):
        await pressed.answer(texts.ASK_UNAVAILABLE)
        return
    await pressed.answer(texts.ASK_SENT, reply_markup=keyboards.main_menu())
    await _after_hours_note(pressed, settings)


async def on_faq(
    query: CallbackQuery,
    callback_data: FaqCb,
    callback_answer: CallbackAnswer,
    db: Database,
    settings: Settings,
) -> None:
    entry = find_faq(faq_entries(settings), callback_data.index, callback_data.key)
    if query.message is None or entry is None or callback_data.user_id != 0:
        callback_answer.text = texts.STALE_BUTTON
        return
    await query.message.answer(
        texts.faq_answer(entry.question, await fill_faq(db, entry.answer)),
        reply_markup=keyboards.single(texts.BTN_FAQ_HELPED, "ask_cancel"),
    )


async def on_edited(message: Message, bot: Bot, db: Database, settings: Settings) -> None:
    if message.from_user is None or not settings.support_chats:
        return
    async with db.write() as session:
        await support_desk.enqueue_edit(
            session,
            settings,
            message.from_user.id,
            message.message_id,
            message.text or message.caption or "",
        )


async def on_rate(
    query: CallbackQuery, callback_data: RateCb, callback_answer: CallbackAnswer, db: Database
) -> None:
    async with db.write() as session:
        counted = await support.rate(session, query.from_user.id, callback_data.rating)
    callback_answer.text = texts.RATING_THANKS if counted else texts.RATING_NOT_EXPECTED
    if isinstance(query.message, Message):
        try:
            await query.message.edit_reply_markup(reply_markup=None)
        except TelegramBadRequest:
            pass


def support_router() -> Router:
    router = Router(name="support")
    router.message.register(on_question, StateFilter(QuestionFlow.waiting))
    router.callback_query.register(on_faq, FaqCb.filter())
    router.callback_query.register(on_ask_this, AskThisCb.filter())
    router.callback_query.register(on_rate, RateCb.filter())
    router.edited_message.register(on_edited)
    return router
