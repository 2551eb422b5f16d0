"""The question flow (order item 4.4): an applicant's next message goes to МИАЦ, from the
main menu or from any step of the request dialog, whose state is parked meanwhile
(`RETURN_KEY`) and restored after, so the person continues where they stopped.

Before asking, the FAQ is offered. A question goes to the applicant's thread in the support
chat (or to the admins privately when there is none), tagged with the step it was asked from.
After a specialist's answer the applicant may simply reply: a reply to the answer, and while
the consultation is open any text at a dialog step that takes only buttons, goes to the
specialist instead of being taken as an answer to the form (`for_operator`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message, User

from bot import keyboards, texts
from bot.callbacks import FaqCb, MenuCb
from bot.config import Settings
from bot.middlewares import text_was_cleaned
from bot.outbound import support_desk
from bot.outbound.crossing import content_of
from db.database import Database
from services import support
from services.support import Faq

log = logging.getLogger(__name__)
RETURN_KEY = "question_return_state"
REPLY_KEY = "question_is_reply"  # a reply to a specialist: the consultation goes on
LOOSE_KEY = "loose_questions"  # messages typed outside any dialog, offered to МИАЦ
LOOSE_KEPT = 5


_faqs: dict[str, Faq] = {}


class QuestionFlow(StatesGroup):
    waiting = State()


def faq_of(settings: Settings) -> Faq:
    """One reader per file: it re-reads the file only when it changes."""
    faq = _faqs.get(settings.faq_path)
    if faq is None:
        faq = _faqs[settings.faq_path] = Faq(settings.faq_path)
    return faq


def faq_entries(settings: Settings) -> list[support.FaqEntry]:
    try:
        return faq_of(settings).entries()
    except support.FaqError as exc:
        log.error("the FAQ file is broken: %s", exc)
        return []


def _faq_keyboard(settings: Settings) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(
                text=keyboards.short(entry.question),
                callback_data=FaqCb(index=i, key=entry.key).pack(),
            )
        ]
        for i, entry in enumerate(faq_entries(settings))
    ]
    rows.append(
        [
            InlineKeyboardButton(
                text=texts.BTN_CANCEL, callback_data=MenuCb(action="ask_cancel").pack()
            )
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def can_ask(settings: Settings) -> bool:
    return bool(settings.support_chats) or bool(settings.admin_ids)


async def start_question(
    bot: Bot,
    state: FSMContext,
    settings: Settings,
    chat_id: int,
    step: str | None,
    *,
    reply: bool = False,
) -> None:
    """The next message goes to МИАЦ. `reply`: an answer to a specialist, so no FAQ first."""
    if not can_ask(settings):
        await bot.send_message(chat_id, texts.ASK_UNAVAILABLE)
        return
    current = await state.get_state()
    if current != QuestionFlow.waiting.state:
        await state.update_data({RETURN_KEY: current, "question_step": step})
    await state.update_data({REPLY_KEY: reply})
    await state.set_state(QuestionFlow.waiting)
    if reply:
        cancel = keyboards.single(texts.BTN_CANCEL, "ask_cancel")
        await bot.send_message(chat_id, texts.REPLY_PROMPT, reply_markup=cancel)
        return
    await bot.send_message(
        chat_id,
        texts.with_order(texts.ASK_WITH_FAQ, settings.order_url, settings.esia_url),
        reply_markup=_faq_keyboard(settings),
    )


async def leave_question(state: FSMContext) -> str | None:
    """Restore the state the question was asked from; returns it."""
    data = await state.get_data()
    previous = data.pop(RETURN_KEY, None)
    data.pop("question_step", None)
    data.pop(REPLY_KEY, None)
    await state.set_data(data)
    await state.set_state(previous)
    return previous


# Entities Telegram finds in any typed text by itself: a text with only these is plain, and
# reads the same when sent again as text.
_FOUND_BY_TELEGRAM = frozenset({"url", "email", "phone_number", "mention", "hashtag", "cashtag"})


def plain_text(message: Message) -> str | None:
    """The text of a message that is nothing but text (no file, no formatting), else None."""
    if message.content_type != "text" or not message.text:
        return None
    if any(e.type not in _FOUND_BY_TELEGRAM for e in message.entities or []):
        return None
    return message.text


async def relay(
    message: Message, bot: Bot, db: Database, settings: Settings, step: str | None
) -> bool:
    """Put the question on its way to the support chat (without one, to the admins
    privately): false when there is nowhere to send it."""
    if message.from_user is None:
        return False
    # The content is kept only where it crosses to the other messenger, or where a copy
    # would bring back the invisible characters the bot took out of the text (bidi overrides
    # and the like: services/typed_text.py).
    question = LooseQuestion(
        message.message_id,
        message.caption,
        content_of(message),
        text_was_cleaned(message),
        plain_text(message),
    )
    return await relay_kept(db, settings, message.from_user, question, step)


@dataclass(frozen=True)
class LooseQuestion:
    """A message the person typed outside any dialog, kept until they say it is a question
    (order item 4.4: a consultation needs no menu first)."""

    message_id: int
    caption: str | None
    content: dict[str, Any]
    cleaned: bool = False  # carried as content even where a copy could go
    plain: str | None = None  # nothing but text: may be merged with the person's next ones


async def relay_kept(
    db: Database, settings: Settings, user: User, question: LooseQuestion, step: str | None
) -> bool:
    """`relay` of a message read earlier."""
    async with db.write() as session:
        if not settings.support_chats:
            return await support_desk.enqueue_to_admins(
                session,
                settings,
                user.id,
                user.first_name,
                question.message_id,
                step,
                question.content,
                carry=question.cleaned,
            )
        return await support_desk.enqueue_question(
            session,
            settings,
            user.id,
            user.full_name,
            question.message_id,
            step,
            question.caption,
            question.content,
            carry=question.cleaned,
            plain_text=question.plain,
        )


async def keep_loose(state: FSMContext, message: Message) -> None:
    """Keep a message typed outside any dialog, to be sent on with one press; the latest
    few are kept (an offer further up then answers as a stale button)."""
    data = await state.get_data()
    kept = dict(list(dict(data.get(LOOSE_KEY) or {}).items())[-(LOOSE_KEPT - 1) :])
    kept[str(message.message_id)] = {
        "caption": message.caption,
        "content": content_of(message),
        "cleaned": text_was_cleaned(message),
        "plain": plain_text(message),
    }
    await state.update_data({LOOSE_KEY: kept})


async def take_loose(state: FSMContext, message_id: int) -> LooseQuestion | None:
    """The kept message, forgotten as it is taken (a second press finds nothing)."""
    data = await state.get_data()
    kept = dict(data.get(LOOSE_KEY) or {})
    found = kept.pop(str(message_id), None)
    if found is None:
        return None
    await state.update_data({LOOSE_KEY: kept})
    return LooseQuestion(
        message_id,
        found.get("caption"),
        dict(found.get("content") or {}),
        bool(found.get("cleaned")),
        found.get("plain"),
    )


async def follow_up(message: Message, bot: Bot, db: Database, settings: Settings) -> bool:
    """A message outside any dialog from someone who has consulted before goes to their
    thread (a closed one is reopened)."""
    if message.from_user is None or not settings.support_chats:
        return False
    async with db.read() as session:
        thread = await support.thread_of(session, message.from_user.id)
    if thread is None:
        return False
    return await relay(message, bot, db, settings, None)  # reopens a closed ticket


async def for_operator(
    message: Message,
    bot: Bot,
    db: Database,
    settings: Settings,
    *,
    step: str | None,
    buttons_only: bool,
) -> bool:
    """Relay a message written in the request dialog to the applicant's consultation when it
    is meant for the specialist: a reply to one of the specialist's answers, or, while the
    consultation is open, anything sent at a step that takes only buttons. True if relayed.
    Plain answers at text steps go to the form without a database look-up."""
    user = message.from_user
    reply = message.reply_to_message
    to_answer = reply is not None and reply.from_user is not None and reply.from_user.id == bot.id
    if user is None or not settings.support_chats or not (to_answer or buttons_only):
        return False
    async with db.read() as session:
        thread = await support.thread_of(session, user.id)
        if thread is None:
            return False
        if to_answer and reply is not None:
            to_answer = await support.is_answer(session, user.id, reply.message_id)
    if not (to_answer or (buttons_only and thread.status == "open")):
        return False
    return await relay(message, bot, db, settings, step)
