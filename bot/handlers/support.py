"""Questions from applicants to МИАЦ (order item 4.4).

A question is relayed to SUPPORT_CHAT_ID (or to the admins when it is not set) with the step of
the request dialog it was asked from; the dialog's state is kept, so the person continues
where they stopped.
"""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message

from bot import keyboards, texts
from bot.config import Settings
from bot.filters import PrivateChat

log = logging.getLogger(__name__)
RETURN_KEY = "question_return_state"


class QuestionFlow(StatesGroup):
    waiting = State()


def support_targets(settings: Settings) -> list[int]:
    if settings.support_chat_id is not None:
        return [settings.support_chat_id]
    return list(settings.admin_ids)


async def start_question(
    bot: Bot, state: FSMContext, settings: Settings, chat_id: int, step: str | None
) -> None:
    if not support_targets(settings):
        await bot.send_message(chat_id, texts.ASK_UNAVAILABLE)
        return
    current = await state.get_state()
    if current != QuestionFlow.waiting.state:
        await state.update_data({RETURN_KEY: current, "question_step": step})
    await state.set_state(QuestionFlow.waiting)
    await bot.send_message(
        chat_id, texts.ASK_PROMPT, reply_markup=keyboards.single(texts.BTN_CANCEL, "ask_cancel")
    )


async def leave_question(state: FSMContext) -> str | None:
    """Restore the state the question was asked from; returns it."""
    data = await state.get_data()
    previous = data.pop(RETURN_KEY, None)
    data.pop("question_step", None)
    await state.set_data(data)
    await state.set_state(previous)
    return previous


async def on_question(message: Message, state: FSMContext, bot: Bot, settings: Settings) -> None:
    if message.from_user is None:
        return
    data = await state.get_data()
    step = data.get("question_step")
    header = texts.support_ticket(
        message.from_user.id,
        message.from_user.first_name,
        texts.STEP_NAMES.get(step) if step else None,
    )
    delivered = False
    for target in support_targets(settings):
        try:
            await bot.send_message(target, header)
            await message.copy_to(target)
            delivered = True
        except TelegramAPIError as exc:
            log.warning("question not delivered to a support chat: %s", type(exc).__name__)
    previous = await leave_question(state)
    if not delivered:
        await message.answer(texts.ASK_UNAVAILABLE)
        return
    if previous is not None:
        await message.answer(
            f"{texts.ASK_SENT}\n\n{texts.ASK_RESUME}",
            reply_markup=keyboards.single(texts.BTN_CONTINUE, "resume"),
        )
    else:
        await message.answer(texts.ASK_SENT, reply_markup=keyboards.main_menu())


def support_router() -> Router:
    router = Router(name="support")
    router.message.filter(PrivateChat())
    router.message.register(on_question, StateFilter(QuestionFlow.waiting))
    return router
