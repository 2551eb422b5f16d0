"""Admins deciding on a request card (order No 922, appendix: the request is approved,
rejected, returned for changes, or its role changed): one handler per button, and the typed
reasons and comments they ask for (`bot.prompts`).

Rights are the admin wing's (bot/handlers/admin/__init__.py): a press by anyone else changes
nothing. Two admins pressing at once make one decision, at the database; the loser is told
who decided first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, User
from aiogram.utils.callback_answer import CallbackAnswer

from bot import keyboards, prompts, texts
from bot.callbacks import AdminCb, CardAction
from bot.config import Settings
from bot.outbound.cards import (
    RETURN_FIELDS,
    announce,
    enqueue_card_refresh,
    enqueue_notice,
    refresh_cards,
    render,
)
from db.database import Database
from db.models import AccessRequest
from services import requests as request_service
from services import staff
from services.requests import Status
from services.role_matrix import RoleMatrix

INPUT_TTL = timedelta(minutes=30)
INPUT_LIMIT = 1000
REJECT = prompts.kind(
    "reject", INPUT_TTL, INPUT_LIMIT, texts.INPUT_TOO_LONG, texts.INPUT_NEEDS_TEXT
)
RETURN = prompts.kind(
    "return", INPUT_TTL, INPUT_LIMIT, texts.INPUT_TOO_LONG, texts.INPUT_NEEDS_TEXT
)
ROLE = prompts.kind("role", INPUT_TTL, INPUT_LIMIT, texts.INPUT_TOO_LONG, texts.INPUT_NEEDS_TEXT)
KINDS = (REJECT, RETURN, ROLE)


# --- decisions --------------------------------------------------------------------------------


def _reasons(settings: Settings) -> list[str]:
    return settings.reject_reasons or list(texts.DEFAULT_REJECT_REASONS)


async def _decider(db: Database, request: AccessRequest) -> str:
    async with db.read() as session:
        names = await staff.names(session, {request.decided_by} if request.decided_by else set())
    when = request.decided_at or request.updated_at
    return texts.who_when_plain(texts.staff_name(request.decided_by, names), when)


async def _lost_race(db: Database, request_id: int) -> str:
    """Plain text (a callback alert, or a reply sent without HTML): who decided first."""
    async with db.read() as session:
        request = await session.get(AccessRequest, request_id)
    if request is None:
        return texts.REQUEST_NOT_FOUND
    return texts.already_decided(request.status, await _decider(db, request))


async def apply_decision(
    bot: Bot,
    db: Database,
    settings: Settings,
    admin: User,
    request_id: int,
    decision: Status,
    *,
    reason: str | None = None,
    fields: list[str] | None = None,
) -> str | None:
    """Decide; returns None on success or the text saying who decided first. The cards, the
    support header and the applicant's notice are enqueued in the decision's transaction."""
    async with db.write() as session:
        await staff.remember_name(session, admin.id, admin.full_name)
        decided = await request_service.decide(
            session, request_id, decision, actor_id=admin.id, reason=reason, fields=fields
        )
        request = await session.get(AccessRequest, request_id)
        if decided and request is not None:
            await announce(session, request, decision.value)
    if not decided or request is None:
        return await _lost_race(db, request_id)  # the winner updates the cards
    return None


def _card_button(
    text: str, action: CardAction | str, request_id: int, value: int = 0
) -> InlineKeyboardButton:
    data = AdminCb(action=action, request_id=request_id, value=value).pack()
    return InlineKeyboardButton(text=keyboards.short(text), callback_data=data)


def _reason_keyboard(request_id: int, settings: Settings) -> InlineKeyboardMarkup:
    rows = [
        [_card_button(reason, "reject_reason", request_id, i)]
        for i, reason in enumerate(_reasons(settings))
    ]
    rows.append([_card_button(texts.BTN_OTHER_REASON, "reject_other", request_id)])
    rows.append([_card_button(texts.BTN_CARD_BACK, "back", request_id)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _fields_keyboard(request_id: int, mask: int) -> InlineKeyboardMarkup:
    rows = []
    for bit, field in enumerate(RETURN_FIELDS):
        chosen = mask & (1 << bit)
        label = ("✅ " if chosen else "▫️ ") + texts.RETURN_FIELD_NAMES[field]
        rows.append([_card_button(label, "return_toggle", request_id, mask ^ (1 << bit))])
    rows.append(
        [
            _card_button(texts.BTN_CARD_BACK, "back", request_id),
            _card_button(texts.BTN_NEXT, "return_next", request_id, mask),
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _roles_keyboard(request_id: int, matrix: RoleMatrix) -> InlineKeyboardMarkup:
    rows = [
        [_card_button(f"{role.name} — {role.level}", "role_pick", request_id, i)]
        for i, role in enumerate(matrix.roles)
    ]
    rows.append([_card_button(texts.BTN_CARD_BACK, "back", request_id)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def _change_role(
    db: Database, admin: User, request_id: int, data: dict[str, Any], reason: str
) -> tuple[str | None, Status]:
    async with db.write() as session:
        await staff.remember_name(session, admin.id, admin.full_name)
        request = await session.get(AccessRequest, request_id)
        changed = await request_service.change_role(
            session, request_id, data["role"], data["level"], actor_id=admin.id, reason=reason
        )
        if changed and request is not None:
            await enqueue_card_refresh(session, request_id, request.account_id)
            await enqueue_notice(session, request, "role_changed")
    if not changed or request is None:
        return await _lost_race(db, request_id), Status.SUBMITTED
    return None, Status.SUBMITTED


async def _open_card(
    query: CallbackQuery,
    callback_data: AdminCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
) -> tuple[AccessRequest, Message] | None:
    """The pressed card's request, if it can still be decided; otherwise the press is
    answered with why not (and every copy of the card brought up to date)."""
    message = query.message if isinstance(query.message, Message) else None
    async with db.read() as session:
        request = await session.get(AccessRequest, callback_data.request_id)
    if request is None or message is None:
        callback_answer.text = texts.REQUEST_NOT_FOUND
        return None
    if request.status != Status.SUBMITTED.value:
        lost = await _lost_race(db, request.id)
        callback_answer.text, callback_answer.show_alert = lost, True
        await refresh_cards(bot, db, request.id)
        return None
    if request.org_card_held:  # ORG_CONFIRMATION=required: МИАЦ decides after the answer
        callback_answer.text, callback_answer.show_alert = texts.HELD_FOR_ORG_REFUSED, True
        return None
    return request, message


async def _set_keyboard(message: Message, keyboard: InlineKeyboardMarkup) -> None:
    with contextlib.suppress(TelegramBadRequest):  # a double tap: it already shows this
        await message.edit_reply_markup(reply_markup=keyboard)


async def on_approve(
    query: CallbackQuery,
    callback_data: AdminCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    settings: Settings,
) -> None:
    opened = await _open_card(query, callback_data, callback_answer, bot, db)
    if opened is None:
        return
    request, _ = opened
    if request.role is None:
        callback_answer.text, callback_answer.show_alert = texts.ROLE_NEEDED, True
        return
    try:
        lost = await apply_decision(bot, db, settings, query.from_user, request.id, Status.APPROVED)
    except request_service.EmailHeld as held:  # one address, one person (the order)
        callback_answer.text, callback_answer.show_alert = texts.email_held(held.holder_id), True
        await refresh_cards(bot, db, request.id)
        return
    callback_answer.text, callback_answer.show_alert = lost, lost is not None


async def on_reject(
    query: CallbackQuery,
    callback_data: AdminCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    settings: Settings,
) -> None:
    opened = await _open_card(query, callback_data, callback_answer, bot, db)
    if opened is not None:
        request, message = opened
        await _set_keyboard(message, _reason_keyboard(request.id, settings))


async def on_reject_reason(
    query: CallbackQuery,
    callback_data: AdminCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    settings: Settings,
) -> None:
    opened = await _open_card(query, callback_data, callback_answer, bot, db)
    if opened is None:
        return
    request, _ = opened
    reasons = _reasons(settings)
    if not 0 <= callback_data.value < len(reasons):
        callback_answer.text = texts.STALE_BUTTON
        return
    reason = reasons[callback_data.value]
    lost = await apply_decision(
        bot, db, settings, query.from_user, request.id, Status.REJECTED, reason=reason
    )
    callback_answer.text, callback_answer.show_alert = lost, lost is not None


async def on_reject_other(
    query: CallbackQuery,
    callback_data: AdminCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    fsm_storage: BaseStorage,
) -> None:
    opened = await _open_card(query, callback_data, callback_answer, bot, db)
    if opened is not None:
        request, message = opened
        await prompts.ask(
            bot,
            fsm_storage,
            message.chat.id,
            query.from_user,
            REJECT,
            texts.ask_reject_reason(request.id),
            {"request_id": request.id},
        )


async def on_return(
    query: CallbackQuery,
    callback_data: AdminCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
) -> None:
    opened = await _open_card(query, callback_data, callback_answer, bot, db)
    if opened is not None:
        request, message = opened
        await _set_keyboard(message, _fields_keyboard(request.id, 0))
        callback_answer.text = texts.pick_return_fields(request.id)


async def on_return_toggle(
    query: CallbackQuery,
    callback_data: AdminCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
) -> None:
    opened = await _open_card(query, callback_data, callback_answer, bot, db)
    if opened is not None:
        request, message = opened
        await _set_keyboard(message, _fields_keyboard(request.id, callback_data.value))


async def on_return_next(
    query: CallbackQuery,
    callback_data: AdminCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    fsm_storage: BaseStorage,
) -> None:
    opened = await _open_card(query, callback_data, callback_answer, bot, db)
    if opened is None:
        return
    request, message = opened
    fields = [f for bit, f in enumerate(RETURN_FIELDS) if callback_data.value & (1 << bit)]
    if not fields:
        callback_answer.text = texts.PICK_AT_LEAST_ONE
        return
    await prompts.ask(
        bot,
        fsm_storage,
        message.chat.id,
        query.from_user,
        RETURN,
        texts.ask_return_comment(request.id, fields),
        {"request_id": request.id, "fields": fields},
    )


async def on_role(
    query: CallbackQuery,
    callback_data: AdminCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    role_matrix: RoleMatrix,
) -> None:
    opened = await _open_card(query, callback_data, callback_answer, bot, db)
    if opened is not None:
        request, message = opened
        await _set_keyboard(message, _roles_keyboard(request.id, role_matrix))


async def on_role_pick(
    query: CallbackQuery,
    callback_data: AdminCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    role_matrix: RoleMatrix,
    fsm_storage: BaseStorage,
) -> None:
    opened = await _open_card(query, callback_data, callback_answer, bot, db)
    if opened is None:
        return
    request, message = opened
    if not 0 <= callback_data.value < len(role_matrix.roles):
        callback_answer.text = texts.STALE_BUTTON
        return
    role = role_matrix.roles[callback_data.value]
    await prompts.ask(
        bot,
        fsm_storage,
        message.chat.id,
        query.from_user,
        ROLE,
        texts.ask_role_reason(request.id, role.name),
        {"request_id": request.id, "role": role.name, "level": role.level},
    )


async def on_back(
    query: CallbackQuery,
    callback_data: AdminCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
) -> None:
    opened = await _open_card(query, callback_data, callback_answer, bot, db)
    if opened is None:
        return
    request, message = opened
    async with db.read() as session:
        _, keyboard = await render(session, request)
    with contextlib.suppress(TelegramBadRequest):  # pressed twice: already restored
        await message.edit_reply_markup(reply_markup=keyboard)


# --- typed reasons and comments ----------------------------------------------------------------


async def _apply_answer(
    bot: Bot, db: Database, settings: Settings, admin: User, prompt: prompts.Prompt, text: str
) -> str:
    """Apply a typed reason or comment; returns what to tell the admin."""
    request_id = int(prompt.data["request_id"])
    lost: str | None
    if prompt.kind == REJECT.name:
        lost = await apply_decision(
            bot, db, settings, admin, request_id, Status.REJECTED, reason=text
        )
        status = Status.REJECTED
    elif prompt.kind == RETURN.name:
        fields = [f for f in prompt.data.get("fields", []) if f in RETURN_FIELDS]
        lost = await apply_decision(
            bot, db, settings, admin, request_id, Status.RETURNED, reason=text, fields=fields
        )
        status = Status.RETURNED
    else:
        lost, status = await _change_role(db, admin, request_id, prompt.data, text)
    # Plain text: `lost` names the admin who decided first, as Telegram spells the name.
    return lost or texts.done_note(request_id, status.value)


async def on_answer(
    message: Message,
    prompt: prompts.Prompt,
    answer: str,
    bot: Bot,
    db: Database,
    settings: Settings,
    fsm_storage: BaseStorage,
) -> None:
    admin = message.from_user
    if admin is None:
        return
    answer = " ".join(answer.split())
    refused = prompts.refusal(prompt, answer)
    if refused is not None:
        await prompts.ask_again(message, fsm_storage, bot, prompt, refused)
        return
    told = await _apply_answer(bot, db, settings, admin, prompt, answer)
    # Forgotten only once the decision is made: a failure leaves the prompt to answer again.
    await prompts.forget(fsm_storage, bot, message.chat.id, admin.id)
    await message.reply(told, parse_mode=None)


async def on_stray_taken(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    prompt: prompts.Prompt | None,
    answer: str,
    bot: Bot,
    db: Database,
    settings: Settings,
    fsm_storage: BaseStorage,
) -> None:
    """«✅ Использовать это сообщение»: the admin's own message becomes the answer."""
    taken = await prompts.take_stray(query, callback_answer, prompt, answer)
    if taken is None or prompt is None:
        return
    message, answer = taken
    told = await _apply_answer(bot, db, settings, query.from_user, prompt, answer)
    await prompts.forget(fsm_storage, bot, message.chat.id, query.from_user.id)
    await message.answer(told, parse_mode=None)


async def on_cancel_input(message: Message, bot: Bot, fsm_storage: BaseStorage) -> None:
    if message.from_user is not None:
        await prompts.forget(fsm_storage, bot, message.chat.id, message.from_user.id)
    await message.reply(texts.INPUT_CANCELLED)


def decisions_router() -> Router:
    router = Router(name="decisions")
    card: dict[str, Callable[..., Awaitable[None]]] = {
        CardAction.APPROVE: on_approve,
        CardAction.REJECT: on_reject,
        CardAction.REJECT_REASON: on_reject_reason,
        CardAction.REJECT_OTHER: on_reject_other,
        CardAction.RETURN: on_return,
        CardAction.RETURN_TOGGLE: on_return_toggle,
        CardAction.RETURN_NEXT: on_return_next,
        CardAction.ROLE: on_role,
        CardAction.ROLE_PICK: on_role_pick,
        CardAction.BACK: on_back,
    }
    for action, handler in card.items():
        router.callback_query.register(handler, AdminCb.filter(F.action == action))
    router.message.register(on_cancel_input, Command("cancel"), prompts.PendingPrompt(*KINDS))
    router.message.register(on_answer, prompts.AnswersPrompt(*KINDS))
    router.message.register(prompts.on_written_past, prompts.WrittenPastPrompt(*KINDS))
    router.callback_query.register(on_stray_taken, *prompts.stray_button(*KINDS))
    return router
