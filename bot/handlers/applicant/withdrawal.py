"""Withdrawal of consent in a private chat: /withdraw (or the button under «Мои заявки»), one
confirmation, then everything at once: requests cancelled, personal data destroyed, the dialog
draft and the consultation thread forgotten, the admins' cards showing the erasure."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from sqlalchemy.exc import SQLAlchemyError

from bot import keyboards, texts
from bot.callbacks import WithdrawAction, WithdrawCb
from bot.config import Settings
from bot.outbound import support_desk
from bot.outbound.cards import enqueue_card_refresh
from bot.retention import journal
from db.database import Database
from db.models import utcnow
from services import consent, outbox, support
from services.backup import WITHDRAWAL, Record

log = logging.getLogger(__name__)


async def _ask(bot: Bot, chat_id: int) -> None:
    await bot.send_message(
        chat_id,
        texts.WITHDRAW_CONFIRM,
        reply_markup=keyboards.withdraw_confirm(int(time.time() * 1000)),
    )


async def on_withdraw_command(message: Message, bot: Bot) -> None:
    await _ask(bot, message.chat.id)


async def on_ask_button(query: CallbackQuery, callback_answer: CallbackAnswer, bot: Bot) -> None:
    if query.message is None:
        callback_answer.text = texts.STALE_BUTTON
        return
    await _ask(bot, query.message.chat.id)


async def _answered(bot: Bot, query: CallbackQuery) -> int | None:
    """The question is answered: its buttons go, so an old copy cannot be pressed later."""
    if query.message is None:
        return None
    chat_id = query.message.chat.id
    with contextlib.suppress(TelegramBadRequest):
        await bot.edit_message_reply_markup(
            chat_id=chat_id, message_id=query.message.message_id, reply_markup=None
        )
    return chat_id


async def on_keep(query: CallbackQuery, callback_answer: CallbackAnswer, bot: Bot) -> None:
    chat_id = await _answered(bot, query)
    if chat_id is None:
        callback_answer.text = texts.STALE_BUTTON
        return
    await bot.send_message(chat_id, texts.WITHDRAW_KEPT, reply_markup=keyboards.main_menu())


async def on_confirm(
    query: CallbackQuery,
    callback_data: WithdrawCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    bot: Bot,
    db: Database,
    settings: Settings,
) -> None:
    """Consent withdrawn (152-FZ art. 9 p. 2): the person's data destroyed now."""
    chat_id = await _answered(bot, query)
    if chat_id is None:
        callback_answer.text = texts.STALE_BUTTON
        return
    user_id = query.from_user.id
    async with db.read() as session:
        given = await consent.consent_given_at(session, user_id)
    if given is not None and given.timestamp() * 1000 > callback_data.issued:
        await bot.send_message(chat_id, texts.WITHDRAW_STALE, reply_markup=keyboards.main_menu())
        return
    async with db.write() as session:
        result = await consent.withdraw(session, user_id)
        forgotten = await support.forget(session, user_id)
        erasure = consent.record_erasure(
            session,
            user_id,
            result,
            support_thread=forgotten.thread is not None,
            relayed_messages=forgotten.relayed,
            ratings=forgotten.ratings,
        )
        thread = forgotten.thread
        # Nothing more goes to the person or about them; what is on its way and personal
        # (a relayed question, a notice) is dropped with the data. The admins' cards show
        # the erasure and the consultation topic, with the person's messages, is deleted
        # (in a group without topics, the bot's messages of it; Telegram refuses after 48
        # hours, MAX does not).
        await outbox.forget_person(session, user_id)
        for request_id in result.erased:
            await enqueue_card_refresh(session, request_id)
        if thread is not None:
            support_desk.enqueue_topic_delete(session, thread, forgotten.desk_messages)
    # Every withdrawal that destroyed anything (requests, the thread, its relays, ratings, or
    # only withdrew the consent) is replayed after a restore of an older backup.
    if erasure is not None or result.consents:
        await journal(settings, [Record(utcnow(), user_id, result.erased, WITHDRAWAL)])
    if result.erased:
        try:
            await consent.drop_erased_words(db)
        except SQLAlchemyError as exc:  # the erasure stands; the next one merges the index
            log.warning("word index not merged after a withdrawal: %s", type(exc).__name__)
    await state.clear()  # the unfinished request: SNILS, name, e-mail typed so far
    await bot.send_message(
        chat_id,
        texts.withdrawn(result.cancelled, result.erased),
        reply_markup=keyboards.main_menu(),
    )
    log.info("consent withdrawn: %d requests erased", len(result.erased))


def withdrawal_router() -> Router:
    router = Router(name="withdrawal")
    router.message.register(on_withdraw_command, Command("withdraw"))
    buttons: dict[str, Callable[..., Awaitable[None]]] = {
        WithdrawAction.ASK: on_ask_button,
        WithdrawAction.KEEP: on_keep,
        WithdrawAction.CONFIRM: on_confirm,
    }
    for action, handler in buttons.items():
        router.callback_query.register(handler, WithdrawCb.filter(F.action == action))
    return router
