"""The request form's two handlers: one for every typed answer, one for every button, both
handing the current step to the engine (`bot.fsm.engine`).

A press on a button of an earlier screen is answered with what really happened to the
request. While the applicant has a consultation open, a reply to the specialist's answer, or
text at a step that takes only buttons, goes to the specialist (`bot.fsm.question`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Filter, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot import texts
from bot.callbacks import STEP_ACTIONS, FormAction, FormCb
from bot.config import Settings
from bot.fsm.data import FormData
from bot.fsm.engine import FormEngine, engine_for
from bot.fsm.form import STATE_TO_STEP, STEPS, Form, Step
from bot.fsm.question import RETURN_KEY, QuestionFlow, for_operator, start_question
from db.database import Database
from db.repositories import RequestRepository
from services.role_matrix import RoleMatrix

log = logging.getLogger(__name__)
CLOCK_SLACK = timedelta(seconds=5)


async def on_form_message(
    message: Message,
    state: FSMContext,
    bot: Bot,
    db: Database,
    settings: Settings,
    role_matrix: RoleMatrix,
) -> None:
    if message.from_user is None:
        return
    name = STATE_TO_STEP[await state.get_state() or ""]
    step = STEPS[name]
    engine = engine_for(
        bot, state, db, settings, role_matrix, message.from_user.id, message.chat.id
    )
    data = await FormData.load(state)
    if await for_operator(message, bot, db, settings, step=name, buttons_only=step.on_text is None):
        await engine.show(name, data, prefix=texts.FORWARDED_TO_OPERATOR)
        return
    if data.prompt_pending:
        # The step's prompt never arrived: the person is answering something else (most
        # likely retyping the last answer). Show it; take nothing from this message.
        await engine.show(name, data, prefix=texts.PROMPT_AGAIN)
        return
    if step.on_text is None:
        await engine.show(name, data, prefix=texts.USE_BUTTONS)
        return
    if message.text is None:
        await engine.show(name, data, prefix=texts.SEND_TEXT)
        return
    outcome = await step.on_text(data, engine.env, message.text)
    await engine.apply(step, data, outcome, pressed=None)


class FormPress(Filter):
    """A press of a form button. `current`: on the step the dialog is on (the step and the
    pressed message go to the handler); otherwise a stale press (of an earlier screen, or of
    a dialog that is over)."""

    def __init__(self, *, current: bool) -> None:
        self.current = current

    async def __call__(
        self, query: CallbackQuery, callback_data: FormCb, state: FSMContext
    ) -> bool | dict[str, Any]:
        step = STEPS.get(callback_data.step)
        pressed = query.message if isinstance(query.message, Message) else None
        on_step = (
            step is not None and pressed is not None and await state.get_state() == step.state.state
        )
        if on_step != self.current:
            return False
        return {"step": step, "pressed": pressed} if on_step else True


async def on_stale_press(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    bot: Bot,
    db: Database,
    settings: Settings,
    role_matrix: RoleMatrix,
) -> None:
    """A button of an earlier screen. No edit of the pressed message: most often it is a
    second press of an answer already taken, whose buttons the engine removed meanwhile."""
    current = await state.get_state() or ""
    pressed = query.message if isinstance(query.message, Message) else None
    if current in STATE_TO_STEP and pressed is not None:
        data = await FormData.load(state)
        if data.prompt_pending:  # the current step's prompt never arrived: show it
            callback_answer.text = texts.PROMPT_AGAIN_SHORT
            engine = engine_for(
                bot, state, db, settings, role_matrix, query.from_user.id, pressed.chat.id
            )
            await engine.show(STATE_TO_STEP[current], data, prefix=texts.PROMPT_AGAIN)
            return
    callback_answer.text = await _stale_answer(state, db, query.from_user.id, pressed)


def _engine(
    query: CallbackQuery,
    pressed: Message,
    state: FSMContext,
    bot: Bot,
    db: Database,
    settings: Settings,
    role_matrix: RoleMatrix,
) -> FormEngine:
    return engine_for(bot, state, db, settings, role_matrix, query.from_user.id, pressed.chat.id)


async def on_noop(query: CallbackQuery) -> None:
    """The page number between the arrows: nothing to do (the press is answered)."""


async def on_back(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    step: Step,
    pressed: Message,
    state: FSMContext,
    bot: Bot,
    db: Database,
    settings: Settings,
    role_matrix: RoleMatrix,
) -> None:
    if not step.back:
        callback_answer.text = texts.STALE_BUTTON
        return
    engine = _engine(query, pressed, state, bot, db, settings, role_matrix)
    await engine.back(step, await FormData.load(state), pressed)


async def on_cancel(
    query: CallbackQuery,
    pressed: Message,
    state: FSMContext,
    bot: Bot,
    db: Database,
    settings: Settings,
    role_matrix: RoleMatrix,
) -> None:
    engine = _engine(query, pressed, state, bot, db, settings, role_matrix)
    await engine.finish(await FormData.load(state), texts.CANCELLED)


async def on_ask(
    query: CallbackQuery,
    step: Step,
    pressed: Message,
    state: FSMContext,
    bot: Bot,
    settings: Settings,
) -> None:
    await start_question(bot, state, settings, pressed.chat.id, step=step.name)


async def on_answer(
    query: CallbackQuery,
    callback_data: FormCb,
    callback_answer: CallbackAnswer,
    step: Step,
    pressed: Message,
    state: FSMContext,
    bot: Bot,
    db: Database,
    settings: Settings,
    role_matrix: RoleMatrix,
) -> None:
    """A step's own button (a choice, a page, «Нет в списке» …): the step decides."""
    if step.on_pick is None:
        callback_answer.text = texts.STALE_BUTTON
        return
    engine = _engine(query, pressed, state, bot, db, settings, role_matrix)
    data = await FormData.load(state)
    try:
        outcome = await step.on_pick(data, engine.env, callback_data.action, callback_data.value)
    except ValueError:  # a forged or outdated value
        callback_answer.text = texts.STALE_BUTTON
        return
    await engine.apply(step, data, outcome, pressed)


async def _stale_answer(
    state: FSMContext, db: Database, user_id: int, pressed: Message | None
) -> str:
    """What a press on a button of an earlier screen is told: to go on from the latest one
    while a dialog is under way; once it is over, whether a request was really sent from it
    (one of the person's requests made after that screen was shown) or not. Nothing is kept
    for this after a dialog ends: the answer comes from the requests themselves."""
    current = await state.get_state() or ""
    if current == QuestionFlow.waiting.state:
        current = (await state.get_data()).get(RETURN_KEY) or ""
    if current in STATE_TO_STEP or pressed is None:
        return texts.STALE_BUTTON
    async with db.read() as session:
        # Telegram dates are whole seconds and another machine's clock: a little slack. No
        # person gets from one request's summary to the next one's in seconds.
        since = pressed.date - CLOCK_SLACK
        sent = await RequestRepository(session).first_since(user_id, since)
    return texts.already_submitted(sent.id) if sent is not None else texts.NOT_SUBMITTED


def form_router() -> Router:
    router = Router(name="form")
    router.callback_query.register(on_stale_press, FormCb.filter(), FormPress(current=False))
    engine_actions: dict[str, Callable[..., Awaitable[None]]] = {
        FormAction.NOOP: on_noop,
        FormAction.BACK: on_back,
        FormAction.CANCEL: on_cancel,
        FormAction.ASK: on_ask,
    }
    for action, handler in engine_actions.items():
        router.callback_query.register(
            handler, FormCb.filter(F.action == action), FormPress(current=True)
        )
    router.callback_query.register(
        on_answer, FormCb.filter(F.action.in_(STEP_ACTIONS)), FormPress(current=True)
    )
    router.message.register(on_form_message, StateFilter(*Form.__all_states__))
    return router
