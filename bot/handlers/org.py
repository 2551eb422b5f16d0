"""Organisations' responsible persons (order No 922, items 2.1, 2.3): `/org` — their
organisation's requests (masked SNILS, never an e-mail), filtered and paged, the positions of
the role matrix with no request yet, the organisation's form as XLSX for the head's signature
— and their answer on a request: «Подтверждаю», or «Не подтверждаю» with a reason typed in
reply to the bot's prompt. And, for anyone, `/responsible words` to ask to become one.

Rights are checked for every message and press (StaffOnly): a responsible person sees and
answers only on requests of their own organisation (services/org_confirmation.py checks it
again for every answer). The reason's prompt is kept in a separate FSM destiny, so the
person's own draft request is never touched.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, Filter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
    User,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot import keyboards, texts
from bot.access import StaffOnly
from bot.callbacks import OrgCb, RespCb
from bot.config import Settings
from bot.filters import PrivateChat, replies_to_bot
from bot.org_desk import (
    after_answer,
    answer_buttons,
    enqueue_application,
    is_open,
    org_name,
    request_block,
)
from db.database import Database
from db.models import utcnow
from services import org_confirmation, organizations, staff
from services.export import org_form
from services.org_confirmation import Answered
from services.org_confirmation import Filter as Which
from services.role_matrix import RoleMatrix
from services.staff import Application, StaffRole

ORG_DESTINY = "org_input"
PAGE = 5
GAP_PAGE = 15
REASON_TTL = timedelta(hours=24)
FILTERS = ("all", "wait", "ret", "appr", "gap")


def reason_context(storage: BaseStorage, bot: Bot, user_id: int) -> FSMContext:
    key = StorageKey(bot_id=bot.id, chat_id=user_id, user_id=user_id, destiny=ORG_DESTINY)
    return FSMContext(storage=storage, key=key)


class ResponsibleOnly(StaffOnly):
    def __init__(self) -> None:
        super().__init__(frozenset({StaffRole.RESPONSIBLE}))

    async def denied(self, event: TelegramObject, user: User | None, data: dict[str, Any]) -> None:
        if user is not None and isinstance(event, Message):
            # No longer a responsible person while a reason was pending: forget it.
            pending = reason_context(data["fsm_storage"], data["bot"], user.id)
            if await pending.get_data():
                await pending.clear()


class AwaitingReason(Filter):
    """A reply to the bot's own prompt for a reason (a ForceReply): cheap checks first, the
    storage is read only for replies to the bot."""

    async def __call__(self, message: Message, fsm_storage: BaseStorage, bot: Bot) -> bool:
        reply = message.reply_to_message
        if reply is None or message.from_user is None or not replies_to_bot(message, bot.id):
            return False
        data = await reason_context(fsm_storage, bot, message.from_user.id).get_data()
        try:
            asked = datetime.fromisoformat(str(data["at"]))
        except (KeyError, ValueError):
            return False
        return data.get("prompt_id") == reply.message_id and utcnow() - asked < REASON_TTL


# --- /org ---------------------------------------------------------------------------------


def _nav(which: str, page: int, pages: int) -> list[list[InlineKeyboardButton]]:
    filters = [
        InlineKeyboardButton(
            text=("• " if f == which else "") + texts.ORG_FILTERS[f],
            callback_data=OrgCb(action=f).pack(),
        )
        for f in FILTERS
    ]
    rows = [filters[:3], filters[3:]]
    pager = []
    if page > 0:
        pager.append(
            InlineKeyboardButton(text="◀️", callback_data=OrgCb(action=which, page=page - 1).pack())
        )
    if page + 1 < pages:
        pager.append(
            InlineKeyboardButton(text="▶️", callback_data=OrgCb(action=which, page=page + 1).pack())
        )
    if pager:
        rows.append(pager)
    rows.append(
        [InlineKeyboardButton(text=texts.BTN_ORG_XLSX, callback_data=OrgCb(action="xlsx").pack())]
    )
    return rows


async def org_view(
    db: Database, user_id: int, which: str, page: int, matrix: RoleMatrix
) -> tuple[str, InlineKeyboardMarkup]:
    async with db.read() as session:
        organization_id = await staff.organization_of(session, user_id)
        assert organization_id is not None  # ResponsibleOnly let them in
        name = org_name(await org_confirmation.organization(session, organization_id))
        if which == "gap":
            taken = await org_confirmation.positions_with_requests(session, organization_id)
            own = org_confirmation.organisation_positions(matrix)
            missing = org_confirmation.missing_positions(own, taken)
            pages = max(1, -(-len(missing) // GAP_PAGE))
            page = min(max(page, 0), pages - 1)
            text = texts.org_gaps(
                name, missing[page * GAP_PAGE : (page + 1) * GAP_PAGE], page, pages
            )
            return text, InlineKeyboardMarkup(inline_keyboard=_nav(which, page, pages))
        total, page, rows = await org_confirmation.page(
            session, organization_id, Which(which), PAGE, page
        )
    pages = max(1, -(-total // PAGE))
    keyboard = [
        answer_buttons(r.id, numbered=True) for r in rows if is_open(r) and r.telegram_id != user_id
    ]
    text = texts.org_page(name, which, [request_block(r) for r in rows], page, pages)
    return text, InlineKeyboardMarkup(inline_keyboard=keyboard + _nav(which, page, pages))


async def on_org(message: Message, db: Database, role_matrix: RoleMatrix) -> None:
    if message.from_user is None:
        return
    text, keyboard = await org_view(db, message.from_user.id, "all", 0, role_matrix)
    await message.answer(text, reply_markup=keyboard)


async def _send_form(bot: Bot, db: Database, chat_id: int, user_id: int) -> str | None:
    """The organisation's requests in the order's form: an XLSX with the head's signature
    line. Returns what to tell in the button's answer when there is nothing to send."""
    async with db.read() as session:
        organization_id = await staff.organization_of(session, user_id)
        assert organization_id is not None
        organization = await org_confirmation.organization(session, organization_id)
        rows = await org_confirmation.form_rows(session, organization_id)
    if not rows:
        return texts.ORG_XLSX_EMPTY
    data = await org_form.build(rows, texts.ORG_FORM_HIDDEN, texts.ORG_FORM_SIGNATURE)
    name = org_name(organization)
    await bot.send_document(
        chat_id,
        BufferedInputFile(data, filename=f"zayavka_org_{organization_id}.xlsx"),
        caption=texts.org_xlsx_caption(name, len(rows)),
    )
    return None


async def answer_request(
    db: Database,
    settings: Settings,
    user_id: int,
    request_id: int,
    confirm: bool,
    reason: str | None,
) -> str:
    async with db.write() as session:
        result = await org_confirmation.answer(session, request_id, user_id, confirm, reason)
        if isinstance(result, Answered):
            await after_answer(session, settings, result)
    if result is org_confirmation.Refused.NOT_YOURS:
        return texts.ORG_NOT_YOURS
    if result is org_confirmation.Refused.ALREADY:
        return texts.ORG_ALREADY
    if result is org_confirmation.Refused.OWN:
        return texts.ORG_OWN_REQUEST
    return texts.org_confirmed_done(request_id) if confirm else texts.org_declined_done(request_id)


def _without(markup: InlineKeyboardMarkup | None, request_id: int) -> InlineKeyboardMarkup | None:
    """The keyboard without the answered request's buttons."""
    if markup is None:
        return None
    answered = {OrgCb(action=a, value=request_id).pack() for a in ("yes", "no")}
    rows = [[b for b in row if b.callback_data not in answered] for row in markup.inline_keyboard]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


async def _drop_answer_buttons(message: Message, request_id: int) -> None:
    """The answered request's buttons leave the message they were pressed on."""
    if message.reply_markup is None:
        return
    with contextlib.suppress(TelegramBadRequest):
        await message.edit_reply_markup(reply_markup=_without(message.reply_markup, request_id))


async def on_org_button(
    query: CallbackQuery,
    callback_data: OrgCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    settings: Settings,
    fsm_storage: BaseStorage,
    role_matrix: RoleMatrix,
) -> None:
    message = query.message if isinstance(query.message, Message) else None
    if message is None:
        callback_answer.text = texts.STALE_BUTTON
        return
    user_id = query.from_user.id
    action = callback_data.action
    if action in FILTERS:
        text, keyboard = await org_view(db, user_id, action, callback_data.page, role_matrix)
        with contextlib.suppress(TelegramBadRequest):  # the same page again
            await message.edit_text(text, reply_markup=keyboard)
        return
    if action == "xlsx":
        told = await _send_form(bot, db, message.chat.id, user_id)
        if told:
            callback_answer.text = told
        return
    if action == "yes":
        outcome = await answer_request(db, settings, user_id, callback_data.value, True, None)
        callback_answer.text = outcome
        if outcome != texts.ORG_NOT_YOURS:
            await _drop_answer_buttons(message, callback_data.value)
        return
    if action == "no":
        async with db.read() as session:
            request = await org_confirmation.request_of_org(session, user_id, callback_data.value)
        if request is None or not is_open(request):
            callback_answer.text = texts.ORG_NOT_YOURS if request is None else texts.ORG_ALREADY
            return
        if request.telegram_id == user_id:
            callback_answer.text = texts.ORG_OWN_REQUEST
            return
        # The cancel button first: the prompt comes last, so the reply box opens for it.
        await bot.send_message(
            message.chat.id,
            texts.ORG_REASON_CANCEL_HINT,
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[
                    [
                        InlineKeyboardButton(
                            text=texts.BTN_ORG_CANCEL,
                            callback_data=OrgCb(action="cancel", value=request.id).pack(),
                        )
                    ]
                ]
            ),
        )
        prompt = await bot.send_message(
            message.chat.id,
            f"№ {request.id}. {texts.ORG_REASON_PROMPT}",
            reply_markup=ForceReply(input_field_placeholder=texts.ORG_REASON_PLACEHOLDER),
        )
        await reason_context(fsm_storage, bot, user_id).set_data(
            {
                "request_id": request.id,
                "prompt_id": prompt.message_id,
                "origin": [message.chat.id, message.message_id],
                "origin_markup": (
                    left.model_dump(mode="json", exclude_none=True)
                    if (left := _without(message.reply_markup, request.id))
                    else None
                ),
                "at": utcnow().isoformat(),
            }
        )
        return
    if action == "cancel":
        await reason_context(fsm_storage, bot, user_id).clear()
        callback_answer.text = texts.ORG_REASON_CANCELLED
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_reply_markup(reply_markup=None)
        return
    callback_answer.text = texts.STALE_BUTTON


async def on_reason(
    message: Message, bot: Bot, db: Database, settings: Settings, fsm_storage: BaseStorage
) -> None:
    assert message.from_user is not None
    context = reason_context(fsm_storage, bot, message.from_user.id)
    data = await context.get_data()
    reason = " ".join((message.text or "").split())
    if not reason:
        prompt = await message.answer(texts.ORG_REASON_EMPTY, reply_markup=ForceReply())
        await context.update_data(prompt_id=prompt.message_id)
        return
    if len(reason) > texts.ORG_REASON_LIMIT:
        prompt = await message.answer(texts.ORG_REASON_TOO_LONG, reply_markup=ForceReply())
        await context.update_data(prompt_id=prompt.message_id)
        return
    request_id = int(data["request_id"])
    await context.clear()
    await message.answer(
        await answer_request(db, settings, message.from_user.id, request_id, False, reason)
    )
    chat_id, message_id = data.get("origin") or (None, None)
    if chat_id is not None:
        # The request's buttons leave the message «Не подтверждаю» was pressed on.
        left = data.get("origin_markup")
        with contextlib.suppress(TelegramBadRequest):
            await bot.edit_message_reply_markup(
                chat_id=chat_id,
                message_id=message_id,
                reply_markup=InlineKeyboardMarkup.model_validate(left) if left else None,
            )


def org_router() -> Router:
    router = Router(name="org")
    for observer in (router.message, router.callback_query):
        observer.filter(PrivateChat())
        observer.middleware(ResponsibleOnly())
    router.message.register(on_reason, AwaitingReason())
    router.message.register(on_org, Command("org"))
    router.callback_query.register(on_org_button, OrgCb.filter())
    return router


# --- asking to become a responsible person -----------------------------------------------------


async def on_responsible(
    message: Message, command: CommandObject, db: Database, settings: Settings
) -> None:
    words = (command.args or "").strip()
    if not words:
        await message.answer(texts.RESPONSIBLE_HOW)
        return
    async with db.read() as session:
        found = await organizations.search(session, settings.region_name, words)
    if not found.items:
        await message.answer(texts.RESPONSIBLE_NONE)
        return
    keyboard = [
        [
            InlineKeyboardButton(
                text=keyboards.short(org.name_short or org.name_full),
                callback_data=RespCb(action="pick", org_id=org.id).pack(),
            )
        ]
        for org in found.items
    ]
    await message.answer(
        texts.responsible_found(found.total, len(found.items)),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=keyboard),
    )


async def on_responsible_pick(
    query: CallbackQuery,
    callback_data: RespCb,
    callback_answer: CallbackAnswer,
    db: Database,
    settings: Settings,
) -> None:
    user = query.from_user
    message = query.message if isinstance(query.message, Message) else None
    if callback_data.action == "pick" and message is not None:
        async with db.read() as session:
            organization = await org_confirmation.organization(session, callback_data.org_id)
        if organization is None:
            callback_answer.text = texts.STALE_BUTTON
            return
        send = InlineKeyboardButton(
            text=texts.BTN_APPLICATION_SEND,
            callback_data=RespCb(action="send", org_id=callback_data.org_id).pack(),
        )
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_text(
                texts.application_confirm(org_name(organization)),
                reply_markup=InlineKeyboardMarkup(inline_keyboard=[[send]]),
            )
        return
    if callback_data.action != "send":
        callback_answer.text = texts.STALE_BUTTON
        return
    async with db.write() as session:
        if await org_confirmation.organization(session, callback_data.org_id) is None:
            callback_answer.text = texts.STALE_BUTTON
            return
        outcome, application_id = await staff.apply_responsible(
            session, user.id, user.full_name, callback_data.org_id
        )
        if application_id is not None:
            await enqueue_application(session, settings, application_id)
    callback_answer.show_alert = True
    callback_answer.text = {
        Application.FILED: texts.APPLICATION_FILED,
        Application.ALREADY_PENDING: texts.APPLICATION_PENDING,
        Application.ALREADY_STAFF: texts.APPLICATION_ALREADY_STAFF,
    }[outcome]
    if message is not None and outcome is Application.FILED:
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_reply_markup(reply_markup=None)


def responsible_ask_router() -> Router:
    router = Router(name="responsible_ask")
    router.message.filter(PrivateChat())
    router.callback_query.filter(PrivateChat())
    router.message.register(on_responsible, Command("responsible"))
    router.callback_query.register(on_responsible_pick, RespCb.filter())
    return router
