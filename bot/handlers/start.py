"""Main menu, commands and «Мои заявки» in a private chat."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot import keyboards, texts
from bot.callbacks import FixCb, MenuCb
from bot.config import Settings
from bot.filters import PrivateChat
from bot.fsm.form import STATE_TO_STEP
from bot.handlers.form import engine_for
from bot.handlers.staff import INVITE_PREFIX, accept_invite
from bot.handlers.support import (
    RETURN_KEY,
    QuestionFlow,
    follow_up,
    leave_question,
    start_question,
)
from db.database import Database
from db.repositories import RequestRepository
from services.role_matrix import RoleMatrix

MY_REQUESTS_SHOWN = 8  # the newest; each block is clipped, so the list fits one message


async def _in_form(state: FSMContext) -> bool:
    """In the request dialog, also while a question asked from it is being written."""
    current = await state.get_state() or ""
    if current == QuestionFlow.waiting.state:
        current = (await state.get_data()).get(RETURN_KEY) or ""
    return current in STATE_TO_STEP


async def show_menu(message: Message, state: FSMContext, settings: Settings) -> None:
    if await _in_form(state):
        await message.answer(texts.RESUME_PROMPT, reply_markup=keyboards.resume_menu())
        return
    first_name = message.from_user.first_name if message.from_user else None
    await message.answer(
        texts.greeting(first_name, settings.order_title, settings.deadline),
        reply_markup=keyboards.main_menu(),
    )


async def on_start(
    message: Message, command: CommandObject, state: FSMContext, settings: Settings, db: Database
) -> None:
    if command.args and command.args.startswith(INVITE_PREFIX):
        await accept_invite(message, db, command.args.removeprefix(INVITE_PREFIX))
        return
    if await state.get_state() == QuestionFlow.waiting.state:
        await leave_question(state)
    await show_menu(message, state, settings)


async def send_my_requests(bot: Bot, db: Database, user_id: int, chat_id: int) -> None:
    async with db.read() as session:
        rows = await RequestRepository(session).list_for_user(user_id, limit=MY_REQUESTS_SHOWN)
    if not rows:
        await bot.send_message(chat_id, texts.MY_EMPTY, reply_markup=keyboards.main_menu())
        return
    blocks = [
        texts.my_request(
            r.id,
            r.role,
            r.org_short_name or r.org_full_name,
            r.status,
            r.submitted_at or r.created_at,
            r.decision_reason if r.status in ("returned", "rejected") else None,
        )
        for r in rows
    ]
    returned = [r.id for r in rows if r.status == "returned"]
    markup = keyboards.main_menu()
    markup.inline_keyboard[:0] = [keyboards.fix_button(n).inline_keyboard[0] for n in returned]
    markup.inline_keyboard.append(keyboards.withdraw_button())
    await bot.send_message(chat_id, texts.my_requests(blocks), reply_markup=markup)


async def on_new(
    message: Message,
    state: FSMContext,
    bot: Bot,
    db: Database,
    settings: Settings,
    role_matrix: RoleMatrix,
) -> None:
    if message.from_user is None:
        return
    if await _in_form(state):
        await message.answer(texts.RESUME_PROMPT, reply_markup=keyboards.resume_menu())
        return
    await engine_for(
        bot, state, db, settings, role_matrix, message.from_user.id, message.chat.id
    ).start()


async def on_my(message: Message, bot: Bot, db: Database) -> None:
    if message.from_user is not None:
        await send_my_requests(bot, db, message.from_user.id, message.chat.id)


async def on_help(message: Message, state: FSMContext, bot: Bot, settings: Settings) -> None:
    step = STATE_TO_STEP.get(await state.get_state() or "")
    await start_question(bot, state, settings, message.chat.id, step=step)


async def on_cancel(message: Message, state: FSMContext) -> None:
    current = await state.get_state()
    if current == QuestionFlow.waiting.state:
        previous = await leave_question(state)
        if previous in STATE_TO_STEP:
            await message.answer(
                texts.ASK_RESUME, reply_markup=keyboards.single(texts.BTN_CONTINUE, "resume")
            )
        else:
            await message.answer(texts.NOTHING_TO_CANCEL, reply_markup=keyboards.main_menu())
        return
    if current in STATE_TO_STEP:
        await state.clear()
        await message.answer(texts.CANCELLED, reply_markup=keyboards.main_menu())
        return
    await message.answer(texts.NOTHING_TO_CANCEL, reply_markup=keyboards.main_menu())


async def on_menu_button(
    query: CallbackQuery,
    callback_data: MenuCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    bot: Bot,
    db: Database,
    settings: Settings,
    role_matrix: RoleMatrix,
) -> None:
    if query.message is None:
        callback_answer.text = texts.STALE_BUTTON
        return
    chat_id = query.message.chat.id
    engine = engine_for(bot, state, db, settings, role_matrix, query.from_user.id, chat_id)
    action = callback_data.action
    if action == "new":
        if await _in_form(state):
            await bot.send_message(
                chat_id, texts.RESUME_PROMPT, reply_markup=keyboards.resume_menu()
            )
        else:
            await engine.start()
    elif action == "resume":
        await engine.resume()
    elif action == "restart":
        await engine.start()
    elif action == "my":
        await send_my_requests(bot, db, query.from_user.id, chat_id)
    elif action == "ask":
        step = STATE_TO_STEP.get(await state.get_state() or "")
        await start_question(bot, state, settings, chat_id, step=step)
    elif action == "ask_cancel":
        if await state.get_state() == QuestionFlow.waiting.state:
            previous = await leave_question(state)
            if previous in STATE_TO_STEP:
                await engine.resume()
                return
        await bot.send_message(chat_id, texts.NOTHING_TO_CANCEL, reply_markup=keyboards.main_menu())
    elif action == "guide":
        await bot.send_message(
            chat_id, texts.guide(settings.esia_url), reply_markup=keyboards.main_menu()
        )
    else:
        callback_answer.text = texts.STALE_BUTTON


async def on_fix_button(
    query: CallbackQuery,
    callback_data: FixCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    bot: Bot,
    db: Database,
    settings: Settings,
    role_matrix: RoleMatrix,
) -> None:
    if query.message is None:
        callback_answer.text = texts.STALE_BUTTON
        return
    async with db.read() as session:
        request = await RequestRepository(session).get(callback_data.request_id)
    if request is None or request.telegram_id != query.from_user.id or request.status != "returned":
        callback_answer.text = texts.FIX_NOT_AVAILABLE
        return
    data = await state.get_data()
    if await _in_form(state) and data.get("fix_request_id") != request.id:
        callback_answer.text, callback_answer.show_alert = texts.FINISH_CURRENT_FIRST, True
        return
    chat_id = query.message.chat.id
    await engine_for(bot, state, db, settings, role_matrix, query.from_user.id, chat_id).start_fix(
        request
    )


async def on_other_message(
    message: Message, state: FSMContext, bot: Bot, db: Database, settings: Settings
) -> None:
    """Anything outside a dialog: more words for an open consultation, else the menu."""
    if await follow_up(message, bot, db, settings):
        await message.answer(texts.ASK_SENT)
        return
    await show_menu(message, state, settings)


async def on_unknown_button(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    callback_answer.text = texts.STALE_BUTTON


def start_router() -> Router:
    router = Router(name="start")
    router.message.filter(PrivateChat())
    router.callback_query.filter(PrivateChat())
    router.message.register(on_start, CommandStart())
    router.message.register(on_new, Command("new"))
    router.message.register(on_my, Command("my"))
    router.message.register(on_help, Command("help"))
    router.message.register(on_cancel, Command("cancel"))
    router.callback_query.register(on_menu_button, MenuCb.filter())
    router.callback_query.register(on_fix_button, FixCb.filter())
    return router


def fallback_router() -> Router:
    """Registered last: whatever nothing else took."""
    router = Router(name="fallback")
    router.message.filter(PrivateChat())
    router.message.register(on_other_message)
    router.callback_query.register(on_unknown_button)
    return router
