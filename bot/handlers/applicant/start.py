"""Main menu, commands and «Мои заявки» in a private chat.

«Подать заявку» first shows the person's requests still in work, and offers a request for
another role with their data filled in, instead of letting them re-type everything only to
be told at the end that the same request exists. «Начать заново» asks before it deletes what
was typed; the buttons of a resume question go once one is pressed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot import keyboards, texts
from bot.callbacks import FixCb, MenuAction, MenuCb, MyCb
from bot.config import Settings
from bot.fsm.data import FormData
from bot.fsm.engine import FormEngine, engine_for
from bot.fsm.form import STATE_TO_STEP
from bot.fsm.question import (
    RETURN_KEY,
    QuestionFlow,
    can_ask,
    follow_up,
    keep_loose,
    leave_question,
    start_question,
)
from bot.handlers.applicant.invites import INVITE_PREFIX, accept_invite
from bot.messengers import fits_one_message
from db.database import Database
from db.repositories import RequestRepository
from services import guide_docs, staff
from services.role_matrix import RoleMatrix
from services.staff import StaffRole

OFFERABLE_ID = 2**63  # a message id a button can carry (bot/callbacks.py, MessageNumber)

# Requests per page of «Мои заявки»: each block is clipped (role ≤ 200, organisation 150,
# reason 300 characters), so five always fit Telegram's 4,096.
MY_PAGE = 5
# Fields typed in a dialog: «Начать заново» asks before deleting them.
TYPED_FIELDS = ("snils", "full_name", "email", "org_full", "position")


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


async def send_my_requests(
    bot: Bot, db: Database, user_id: int, chat_id: int, page: int = 0, edit: Message | None = None
) -> None:
    """One page of the person's requests, newest first; `edit` turns the page in place."""
    async with db.read() as session:
        requests = RequestRepository(session)
        total = await requests.count_for_user(user_id)
        pages = max(1, -(-total // MY_PAGE))
        page = min(page, pages - 1)
        rows = await requests.list_for_user(user_id, limit=MY_PAGE, offset=page * MY_PAGE)
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
            held=r.org_card_held,
        )
        for r in rows
    ]
    returned = [r.id for r in rows if r.status == "returned"]
    markup = keyboards.main_menu()
    markup.inline_keyboard[:0] = [keyboards.fix_button(n).inline_keyboard[0] for n in returned]
    if pages > 1:
        markup.inline_keyboard.append(keyboards.my_pager(page, pages))
    markup.inline_keyboard.append(keyboards.mydata_button())
    markup.inline_keyboard.append(keyboards.withdraw_button())
    text = texts.my_requests(blocks, page, pages)
    # A page longer than one MAX message (MAX counts the HTML as sent, escapes included)
    # cannot be edited in: it comes as new messages.
    if edit is not None and fits_one_message(bot, text):
        with contextlib.suppress(TelegramBadRequest):  # pressed twice: already this page
            await edit.edit_text(text, reply_markup=markup)
        return
    await bot.send_message(chat_id, text, reply_markup=markup)


async def start_request(engine: FormEngine, bot: Bot, db: Database, user_id: int) -> None:
    """«Подать заявку»: the person's requests still in work first, if there are any."""
    async with db.read() as session:
        live = await RequestRepository(session).live_for_user(user_id)
    if not live:
        await engine.start()
        return
    rows = [(r.id, r.role, r.status) for r in live[:10]]
    markup = keyboards.existing_requests([r.id for r in live if r.status == "returned"][:3])
    await bot.send_message(engine.chat_id, texts.existing_requests(rows), reply_markup=markup)


async def on_new_command(
    message: Message,
    state: FSMContext,
    bot: Bot,
    db: Database,
    settings: Settings,
    role_matrix: RoleMatrix,
) -> None:
    if message.from_user is None:
        return
    engine = engine_for(
        bot, state, db, settings, role_matrix, message.from_user.id, message.chat.id
    )
    if not await _in_form(state):
        await start_request(engine, bot, db, message.from_user.id)
    elif await _has_typed_data(state):
        await message.answer(texts.RESUME_PROMPT, reply_markup=keyboards.resume_menu())
    else:  # nothing typed yet: nothing to choose between, the dialog goes on
        await engine.resume()


async def on_my(message: Message, bot: Bot, db: Database) -> None:
    if message.from_user is not None:
        await send_my_requests(bot, db, message.from_user.id, message.chat.id)


def _own_commands(role: StaffRole | None) -> dict[str, str]:
    """The commands a staff member has beside the applicant's (the command menu's own)."""
    if role is StaffRole.VIEWER:
        return {
            "stats": texts.ADMIN_COMMANDS["stats"],
            "coverage": texts.ADMIN_COMMANDS["coverage"],
            "report": texts.COMMAND_REPORT,
        }
    if role is StaffRole.RESPONSIBLE:
        return dict(texts.ORG_COMMANDS)
    if role is StaffRole.ADMIN:
        return {
            **texts.ADMIN_COMMANDS,
            "report": texts.COMMAND_REPORT,
            "broadcast": texts.COMMAND_BROADCAST,
        }
    return {}


async def on_help(
    message: Message, state: FSMContext, bot: Bot, db: Database, settings: Settings
) -> None:
    if message.from_user is not None:
        async with db.read() as session:
            role = await staff.role_of(session, message.from_user.id)
        own = _own_commands(role)
        if role is not None and own:
            await message.answer(texts.role_help(texts.ROLE_NAMES[role.value], own))
    step = STATE_TO_STEP.get(await state.get_state() or "")
    await start_question(bot, state, settings, message.chat.id, step=step)


async def on_cancel(
    message: Message,
    state: FSMContext,
    bot: Bot,
    db: Database,
    settings: Settings,
    role_matrix: RoleMatrix,
) -> None:
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
    if current in STATE_TO_STEP and message.from_user is not None:
        # The dialog ends like «Отмена»: its prompt's buttons go with it.
        engine = engine_for(
            bot, state, db, settings, role_matrix, message.from_user.id, message.chat.id
        )
        await engine.finish(await FormData.load(state), texts.CANCELLED)
        return
    await message.answer(texts.NOTHING_TO_CANCEL, reply_markup=keyboards.main_menu())


async def _answered(pressed: Message | None, label: str) -> None:
    """A question's buttons go once one is pressed; the choice stays under it."""
    if pressed is None or pressed.text is None:
        return
    with contextlib.suppress(TelegramBadRequest):
        await pressed.edit_text(
            f"{pressed.html_text}\n\n{texts.answer_echo(label)}", reply_markup=None
        )


async def _has_typed_data(state: FSMContext) -> bool:
    data = await state.get_data()
    return any(data.get(name) for name in TYPED_FIELDS)


class MenuPress:
    """What every main-menu button needs: the chat, the pressed message, the form's engine."""

    def __init__(
        self,
        query: CallbackQuery,
        state: FSMContext,
        bot: Bot,
        db: Database,
        settings: Settings,
        role_matrix: RoleMatrix,
    ) -> None:
        message = query.message
        self.chat_id = message.chat.id if message is not None else query.from_user.id
        self.pressed = message if isinstance(message, Message) else None
        self.user_id = query.from_user.id
        self.engine = engine_for(bot, state, db, settings, role_matrix, self.user_id, self.chat_id)


async def on_new(
    query: CallbackQuery,
    state: FSMContext,
    bot: Bot,
    db: Database,
    settings: Settings,
    role_matrix: RoleMatrix,
) -> None:
    press = MenuPress(query, state, bot, db, settings, role_matrix)
    if not await _in_form(state):
        await start_request(press.engine, bot, db, press.user_id)
    elif await _has_typed_data(state):
        await bot.send_message(
            press.chat_id, texts.RESUME_PROMPT, reply_markup=keyboards.resume_menu()
        )
    else:  # nothing typed yet: nothing to choose between, the dialog goes on
        await press.engine.resume()


async def _no_draft_left(press: MenuPress, state: FSMContext, bot: Bot, db: Database) -> bool:
    """An old question about a dialog that is over: say so, and offer a new one."""
    if await _in_form(state):
        return False
    await _answered(press.pressed, texts.NO_DRAFT)
    await start_request(press.engine, bot, db, press.user_id)
    return True


async def on_resume(
    query: CallbackQuery,
    state: FSMContext,
    bot: Bot,
    db: Database,
    settings: Settings,
    role_matrix: RoleMatrix,
) -> None:
    press = MenuPress(query, state, bot, db, settings, role_matrix)
    if not await _no_draft_left(press, state, bot, db):
        await _answered(press.pressed, texts.BTN_CONTINUE)
        await press.engine.resume()


async def on_restart(
    query: CallbackQuery,
    state: FSMContext,
    bot: Bot,
    db: Database,
    settings: Settings,
    role_matrix: RoleMatrix,
) -> None:
    """«Начать заново»: asks first when something was typed."""
    press = MenuPress(query, state, bot, db, settings, role_matrix)
    if await _no_draft_left(press, state, bot, db):
        return
    await _answered(press.pressed, texts.BTN_RESTART)
    if await _has_typed_data(state):
        await bot.send_message(
            press.chat_id, texts.RESTART_CONFIRM, reply_markup=keyboards.restart_confirm()
        )
        return
    await press.engine.start()


async def on_restart_yes(
    query: CallbackQuery,
    state: FSMContext,
    bot: Bot,
    db: Database,
    settings: Settings,
    role_matrix: RoleMatrix,
) -> None:
    press = MenuPress(query, state, bot, db, settings, role_matrix)
    if not await _no_draft_left(press, state, bot, db):
        await _answered(press.pressed, texts.BTN_RESTART)
        await press.engine.start()


async def on_another(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    bot: Bot,
    db: Database,
    settings: Settings,
    role_matrix: RoleMatrix,
) -> None:
    """«Заявка на другую роль»: the person's data from their last request."""
    press = MenuPress(query, state, bot, db, settings, role_matrix)
    async with db.read() as session:
        live = await RequestRepository(session).live_for_user(press.user_id)
    if not live or await _in_form(state):
        callback_answer.text = texts.STALE_BUTTON
        return
    await _answered(press.pressed, texts.BTN_ANOTHER_ROLE)
    await press.engine.start_another(live[0])


async def on_reply_operator(
    query: CallbackQuery, state: FSMContext, bot: Bot, settings: Settings
) -> None:
    chat_id = query.message.chat.id if query.message is not None else query.from_user.id
    step = STATE_TO_STEP.get(await state.get_state() or "")
    await start_question(bot, state, settings, chat_id, step=step, reply=True)


async def on_ask(query: CallbackQuery, state: FSMContext, bot: Bot, settings: Settings) -> None:
    chat_id = query.message.chat.id if query.message is not None else query.from_user.id
    step = STATE_TO_STEP.get(await state.get_state() or "")
    await start_question(bot, state, settings, chat_id, step=step)


async def on_my_button(query: CallbackQuery, bot: Bot, db: Database) -> None:
    chat_id = query.message.chat.id if query.message is not None else query.from_user.id
    await send_my_requests(bot, db, query.from_user.id, chat_id)


async def on_ask_cancel(
    query: CallbackQuery,
    state: FSMContext,
    bot: Bot,
    db: Database,
    settings: Settings,
    role_matrix: RoleMatrix,
) -> None:
    """The question is not asked after all: back to the dialog it was asked from, if any."""
    press = MenuPress(query, state, bot, db, settings, role_matrix)
    if await state.get_state() == QuestionFlow.waiting.state:
        previous = await leave_question(state)
        if previous in STATE_TO_STEP:
            await press.engine.resume()
            return
    await bot.send_message(
        press.chat_id, texts.NOTHING_TO_CANCEL, reply_markup=keyboards.main_menu()
    )


async def on_guide(query: CallbackQuery, bot: Bot, db: Database, settings: Settings) -> None:
    """The guide's text, then МИАЦ's documents (order item 4.3, kept by admins with /docs) in
    their current versions. The documents go through the outbox, one row each: a document
    from the other messenger is fetched and uploaded, and a crowd opening the guide at once
    meets the messengers' rate limits; the outbox paces and retries that, so this handler
    answers at once instead of sleeping on them."""
    chat_id = query.message.chat.id if query.message is not None else query.from_user.id
    async with db.read() as session:
        documents = len(await guide_docs.listed(session))
    await bot.send_message(
        chat_id,
        texts.with_order(
            texts.guide(settings.esia_url, documents), settings.order_url, settings.esia_url
        ),
        reply_markup=keyboards.main_menu(),
    )
    if documents:  # queued after the text is sent: they come below it
        async with db.write() as session:
            await guide_docs.hand_out(session, chat_id)


MENU: dict[str, Callable[..., Awaitable[None]]] = {
    MenuAction.NEW: on_new,
    MenuAction.RESUME: on_resume,
    MenuAction.RESTART: on_restart,
    MenuAction.RESTART_YES: on_restart_yes,
    MenuAction.ANOTHER: on_another,
    MenuAction.REPLY_OP: on_reply_operator,
    MenuAction.MY: on_my_button,
    MenuAction.ASK: on_ask,
    MenuAction.ASK_CANCEL: on_ask_cancel,
    MenuAction.GUIDE: on_guide,
}


async def on_my_page(
    query: CallbackQuery,
    callback_data: MyCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
) -> None:
    pressed = query.message if isinstance(query.message, Message) else None
    if pressed is None:
        callback_answer.text = texts.STALE_BUTTON
        return
    await send_my_requests(
        bot, db, query.from_user.id, pressed.chat.id, page=callback_data.page, edit=pressed
    )


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
    if request is None or request.account_id != query.from_user.id or request.status != "returned":
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
    """Anything outside a dialog: more words for an open consultation; words typed
    straight away, offered to МИАЦ with one press (the message kept as typed); else the
    menu."""
    if await follow_up(message, bot, db, settings):
        await message.answer(texts.REPLY_SENT)  # the same consultation, not a new question
        return
    words = (message.text or message.caption or "").strip()
    if (
        words
        and not words.startswith("/")
        and await state.get_state() is None
        and can_ask(settings)
        and message.message_id < OFFERABLE_ID
    ):
        await keep_loose(state, message)
        await message.reply(
            texts.loose_question_offer(), reply_markup=keyboards.ask_this(message.message_id)
        )
        return
    await show_menu(message, state, settings)


def start_router() -> Router:
    router = Router(name="start")
    router.message.register(on_start, CommandStart())
    router.message.register(on_new_command, Command("new"))
    router.message.register(on_my, Command("my"))
    router.message.register(on_help, Command("help"))
    router.message.register(on_cancel, Command("cancel"))
    for action, handler in MENU.items():
        router.callback_query.register(handler, MenuCb.filter(F.action == action))
    router.callback_query.register(on_fix_button, FixCb.filter())
    router.callback_query.register(on_my_page, MyCb.filter())
    return router


def fallback_router() -> Router:
    """Registered last: whatever nothing else took."""
    router = Router(name="fallback")
    router.message.register(on_other_message)
    return router
