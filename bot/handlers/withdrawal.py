"""Withdrawal of consent in a private chat: /withdraw (or the button under «Мои заявки»), one
confirmation, then everything at once: requests cancelled, personal data destroyed, the dialog
draft and the consultation thread forgotten, the admins' cards showing the erasure."""

from __future__ import annotations

import contextlib
import logging
import time

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot import background, keyboards, texts
from bot.callbacks import WithdrawCb
from bot.cards import refresh_cards
from bot.filters import PrivateChat
from db.database import Database
from db.models import SupportThread
from services import consent, support

log = logging.getLogger(__name__)


async def _ask(bot: Bot, chat_id: int) -> None:
    await bot.send_message(
        chat_id,
        texts.WITHDRAW_CONFIRM,
        reply_markup=keyboards.withdraw_confirm(int(time.time() * 1000)),
    )


async def on_withdraw_command(message: Message, bot: Bot) -> None:
    await _ask(bot, message.chat.id)


async def on_withdraw_button(
    query: CallbackQuery,
    callback_data: WithdrawCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    bot: Bot,
    db: Database,
) -> None:
    if query.message is None:
        callback_answer.text = texts.STALE_BUTTON
        return
    chat_id = query.message.chat.id
    if callback_data.action == "ask":
        await _ask(bot, chat_id)
        return
    if callback_data.action not in ("confirm", "keep"):
        callback_answer.text = texts.STALE_BUTTON
        return
    # The question is answered: its buttons go, so an old copy cannot be pressed later.
    with contextlib.suppress(TelegramBadRequest):
        await bot.edit_message_reply_markup(
            chat_id=chat_id, message_id=query.message.message_id, reply_markup=None
        )
    if callback_data.action == "keep":
        await bot.send_message(chat_id, texts.WITHDRAW_KEPT, reply_markup=keyboards.main_menu())
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
        consent.record_erasure(
            session,
            user_id,
            result,
            support_thread=forgotten.thread is not None,
            relayed_messages=forgotten.relayed,
            ratings=forgotten.ratings,
        )
    thread = forgotten.thread
    await state.clear()  # the unfinished request: SNILS, name, e-mail typed so far
    await bot.send_message(
        chat_id,
        texts.withdrawn(result.cancelled, result.erased),
        reply_markup=keyboards.main_menu(),
    )
    log.info("consent withdrawn: %d requests erased", len(result.erased))
    # Named by request numbers: a failure is logged with the name, and the person's Telegram
    # id is not for the log.
    numbers = ",".join(map(str, result.erased))[:40] or "draft"
    background.spawn(_show_erasure(bot, db, result.erased, thread), f"erase-{numbers}")


async def _show_erasure(
    bot: Bot, db: Database, request_ids: list[int], thread: SupportThread | None
) -> None:
    """The admins' cards show the erasure; the consultation topic, with the person's messages,
    is deleted (a plain group's messages stay: the bot cannot delete them after 48 hours)."""
    for request_id in request_ids:
        await refresh_cards(bot, db, request_id)
    if thread is not None and thread.topic_id is not None:
        try:
            await bot.delete_forum_topic(thread.chat_id, thread.topic_id)
        except TelegramAPIError as exc:
            log.warning("support topic of a withdrawn consent not deleted: %s", type(exc).__name__)


def withdrawal_router() -> Router:
    router = Router(name="withdrawal")
    router.message.filter(PrivateChat())
    router.callback_query.filter(PrivateChat())
    router.message.register(on_withdraw_command, Command("withdraw"))
    router.callback_query.register(on_withdraw_button, WithdrawCb.filter())
    return router
