"""Admins in the admin chat or in their private chats: request cards and decisions, the
queue, search, a request's card and history.

Rights are checked for every message and every button press (the `AdminOnly` middleware), not
only by hiding buttons: a press by anyone else changes nothing and is answered «Нет доступа».
Typed input (a reason, a comment) is kept in a separate FSM destiny, so an admin's own draft
request in the same private chat is never overwritten. The prompt for it names the admin (a
mention), so the selective ForceReply opens the reply box for them and nobody else. With
privacy mode on, the bot sees only commands and replies to its messages in a group: a reply
to the prompt is the input; an admin who writes past it (a plain message, when the bot can
see those, or a reply to another of its messages) is told how, and may take that message.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, Filter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.types import (
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
from bot.args import ascii_number
from bot.callbacks import AdminCb, QueueCb
from bot.cards import (
    RETURN_FIELDS,
    announce,
    enqueue_card_refresh,
    enqueue_notice,
    post_card,
    refresh_cards,
    render,
)
from bot.config import Settings
from bot.filters import replies_to_bot
from db.database import Database
from db.models import AccessRequest, RequestEvent, utcnow
from db.repositories import EventRepository, Listed, RequestRepository
from services import audit, staff
from services import requests as request_service
from services.consent import PERSONAL_COLUMNS
from services.requests import Status
from services.role_matrix import RoleMatrix
from services.snils import format_snils
from services.staff import StaffRole
from services.text_search import query_words

INPUT_DESTINY = "admin_input"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
QUEUE_PAGE = 8
OPEN_STATUSES = (Status.SUBMITTED.value,)


class AdminScope(Filter):
    """The admin chat, or a private chat (where rights are then checked per person)."""

    async def __call__(self, event: TelegramObject, settings: Settings) -> bool:
        message = event.message if isinstance(event, CallbackQuery) else event
        if not isinstance(message, Message):
            return False
        return message.chat.type == "private" or message.chat.id == settings.admin_chat_id


class AdminOnly(StaffOnly):
    def __init__(self) -> None:
        super().__init__(frozenset({StaffRole.ADMIN}))

    async def denied(self, event: TelegramObject, user: User | None, data: dict[str, Any]) -> None:
        if user is not None and isinstance(event, Message):
            # An admin removed while a reason was pending: forget it.
            storage: BaseStorage = data["fsm_storage"]
            pending = input_context(storage, data["bot"], event.chat.id, user.id)
            if await pending.get_data():
                await pending.clear()


def input_context(storage: BaseStorage, bot: Bot, chat_id: int, user_id: int) -> FSMContext:
    key = StorageKey(bot_id=bot.id, chat_id=chat_id, user_id=user_id, destiny=INPUT_DESTINY)
    return FSMContext(storage=storage, key=key)


INPUT_TTL = timedelta(minutes=30)


def _pending(data: dict[str, Any]) -> bool:
    try:
        asked = datetime.fromisoformat(str(data["at"]))
    except (KeyError, ValueError):
        return False
    return utcnow() - asked < INPUT_TTL


class AwaitingInput(Filter):
    """A reply to the bot's own prompt for a reason or comment, from the admin it asked.

    Only a reply counts (the prompt is a ForceReply, so the client makes one): ordinary chat
    in the admin group, or a command, is never taken as a reason. Cheap checks come first, so
    the storage is read only for replies to the bot.
    """

    async def __call__(self, message: Message, fsm_storage: BaseStorage, bot: Bot) -> bool:
        reply = message.reply_to_message
        if reply is None or message.from_user is None or not replies_to_bot(message, bot.id):
            return False
        context = input_context(fsm_storage, bot, message.chat.id, message.from_user.id)
        data = await context.get_data()
        return data.get("prompt_id") == reply.message_id and _pending(data)


class HasPendingInput(Filter):
    async def __call__(self, message: Message, fsm_storage: BaseStorage, bot: Bot) -> bool:
        if message.from_user is None:
            return False
        context = input_context(fsm_storage, bot, message.chat.id, message.from_user.id)
        return bool(await context.get_data())


class StrayInput(Filter):
    """A text by an admin in the admin group, while the bot waits for their reason, that is
    not the reply it waits for (AwaitingInput is registered first). Group messages only, so
    nobody's private chat pays for a storage read."""

    async def __call__(self, message: Message, fsm_storage: BaseStorage, bot: Bot) -> bool:
        if (
            message.chat.type == "private"
            or message.from_user is None
            or not message.text
            or message.text.startswith("/")
        ):
            return False
        context = input_context(fsm_storage, bot, message.chat.id, message.from_user.id)
        return _pending(await context.get_data())


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


def _card_button(text: str, action: str, request_id: int, value: int = 0) -> InlineKeyboardButton:
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


async def _ask_input(
    bot: Bot, storage: BaseStorage, chat_id: int, admin: User, prompt: str, data: dict[str, Any]
) -> None:
    # The mention makes the selective ForceReply open the reply box for this admin only.
    prompt_message = await bot.send_message(
        chat_id,
        texts.addressed(texts.mention(admin.id, admin.full_name), prompt),
        reply_markup=ForceReply(force_reply=True, selective=True, input_field_placeholder="…"),
    )
    context = input_context(storage, bot, chat_id, admin.id)
    await context.set_data(
        {**data, "prompt_id": prompt_message.message_id, "at": utcnow().isoformat()}
    )


async def _set_keyboard(message: Message, keyboard: InlineKeyboardMarkup) -> None:
    with contextlib.suppress(TelegramBadRequest):  # a double tap: it already shows this
        await message.edit_reply_markup(reply_markup=keyboard)


async def on_card_button(
    query: CallbackQuery,
    callback_data: AdminCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    settings: Settings,
    role_matrix: RoleMatrix,
    fsm_storage: BaseStorage,
) -> None:
    message = query.message if isinstance(query.message, Message) else None
    request_id, action, value = callback_data.request_id, callback_data.action, callback_data.value
    async with db.read() as session:
        request = await session.get(AccessRequest, request_id)
    if request is None or message is None:
        callback_answer.text = texts.REQUEST_NOT_FOUND
        return
    if request.status != Status.SUBMITTED.value:
        callback_answer.text, callback_answer.show_alert = await _lost_race(db, request_id), True
        await refresh_cards(bot, db, request_id)
        return
    if request.org_card_held:  # ORG_CONFIRMATION=required: МИАЦ decides after the answer
        callback_answer.text, callback_answer.show_alert = texts.HELD_FOR_ORG_REFUSED, True
        return
    admin = query.from_user
    if action == "approve":
        if request.role is None:
            callback_answer.text, callback_answer.show_alert = texts.ROLE_NEEDED, True
            return
        try:
            lost = await apply_decision(bot, db, settings, admin, request_id, Status.APPROVED)
        except request_service.EmailHeld as held:  # one address, one person (the order)
            callback_answer.text = texts.email_held(held.holder_id)
            callback_answer.show_alert = True
            await refresh_cards(bot, db, request_id)
            return
        callback_answer.text, callback_answer.show_alert = lost, lost is not None
    elif action == "input_use":
        answer = await _use_stray_input(bot, db, settings, fsm_storage, message, admin, value)
        callback_answer.text = answer
    elif action == "reject":
        await _set_keyboard(message, _reason_keyboard(request_id, settings))
    elif action == "reject_reason":
        reasons = _reasons(settings)
        if not 0 <= value < len(reasons):
            callback_answer.text = texts.STALE_BUTTON
            return
        lost = await apply_decision(
            bot, db, settings, admin, request_id, Status.REJECTED, reason=reasons[value]
        )
        callback_answer.text, callback_answer.show_alert = lost, lost is not None
    elif action == "reject_other":
        await _ask_input(
            bot,
            fsm_storage,
            message.chat.id,
            admin,
            texts.ask_reject_reason(request_id),
            {"kind": "reject", "request_id": request_id},
        )
    elif action == "return":
        await _set_keyboard(message, _fields_keyboard(request_id, 0))
        callback_answer.text = texts.pick_return_fields(request_id)
    elif action == "return_toggle":
        await _set_keyboard(message, _fields_keyboard(request_id, value))
    elif action == "return_next":
        fields = [f for bit, f in enumerate(RETURN_FIELDS) if value & (1 << bit)]
        if not fields:
            callback_answer.text = texts.PICK_AT_LEAST_ONE
            return
        await _ask_input(
            bot,
            fsm_storage,
            message.chat.id,
            admin,
            texts.ask_return_comment(request_id, fields),
            {"kind": "return", "request_id": request_id, "fields": fields},
        )
    elif action == "role":
        await _set_keyboard(message, _roles_keyboard(request_id, role_matrix))
    elif action == "role_pick":
        if not 0 <= value < len(role_matrix.roles):
            callback_answer.text = texts.STALE_BUTTON
            return
        role = role_matrix.roles[value]
        await _ask_input(
            bot,
            fsm_storage,
            message.chat.id,
            admin,
            texts.ask_role_reason(request_id, role.name),
            {"kind": "role", "request_id": request_id, "role": role.name, "level": role.level},
        )
    elif action == "back":
        async with db.read() as session:
            _, keyboard = await render(session, request)
        with contextlib.suppress(TelegramBadRequest):  # pressed twice: already restored
            await message.edit_reply_markup(reply_markup=keyboard)
    else:
        callback_answer.text = texts.STALE_BUTTON


async def on_admin_input(
    message: Message, bot: Bot, db: Database, settings: Settings, fsm_storage: BaseStorage
) -> None:
    admin = message.from_user
    if admin is None:
        return
    text = " ".join((message.text or "").split())
    if not text:
        await message.reply(texts.INPUT_NEEDS_TEXT)
        return
    if len(text) > 1000:
        await message.reply(texts.INPUT_TOO_LONG)
        return
    context = input_context(fsm_storage, bot, message.chat.id, admin.id)
    await message.reply(await _take_input(bot, db, settings, context, admin, text), parse_mode=None)


STRAY_KEPT = 5  # the admin's latest messages that «Это он» can still take


async def on_stray_input(message: Message, fsm_storage: BaseStorage, bot: Bot) -> None:
    """The admin wrote past the prompt: say how to answer it, and offer to take this text."""
    admin = message.from_user
    if admin is None or not message.text:
        return
    context = input_context(fsm_storage, bot, message.chat.id, admin.id)
    data = await context.get_data()
    stray = dict(list(dict(data.get("stray", {})).items())[-(STRAY_KEPT - 1) :])
    stray[str(message.message_id)] = message.text
    await context.update_data({"stray": stray})
    use = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _card_button(
                    texts.BTN_USE_AS_INPUT,
                    "input_use",
                    int(data["request_id"]),
                    message.message_id,
                )
            ]
        ]
    )
    who = texts.mention(admin.id, admin.full_name)
    await message.reply(
        texts.input_hint(who, str(data.get("kind")), int(data["request_id"])), reply_markup=use
    )


async def _use_stray_input(
    bot: Bot,
    db: Database,
    settings: Settings,
    storage: BaseStorage,
    message: Message,
    admin: User,
    message_id: int,
) -> str | None:
    """«Это он»: the admin's own message, offered by on_stray_input, becomes the input."""
    context = input_context(storage, bot, message.chat.id, admin.id)
    data = await context.get_data()
    typed = dict(data.get("stray", {})).get(str(message_id)) if _pending(data) else None
    text = " ".join(str(typed or "").split())
    if not text or len(text) > 1000:
        return texts.STALE_BUTTON if not text else texts.INPUT_TOO_LONG
    with contextlib.suppress(TelegramBadRequest):
        await message.edit_reply_markup(reply_markup=None)
    await message.answer(
        await _take_input(bot, db, settings, context, admin, text), parse_mode=None
    )
    return None


async def _take_input(
    bot: Bot, db: Database, settings: Settings, context: FSMContext, admin: User, text: str
) -> str:
    """Apply a typed reason or comment; returns what to tell the admin. The pending prompt
    is forgotten only once the decision is made, so a failure leaves it to answer again."""
    data = await context.get_data()
    request_id = int(data["request_id"])
    kind = data.get("kind")
    lost: str | None
    if kind == "reject":
        lost = await apply_decision(
            bot, db, settings, admin, request_id, Status.REJECTED, reason=text
        )
        status = Status.REJECTED
    elif kind == "return":
        fields = [f for f in data.get("fields", []) if f in RETURN_FIELDS]
        lost = await apply_decision(
            bot, db, settings, admin, request_id, Status.RETURNED, reason=text, fields=fields
        )
        status = Status.RETURNED
    else:
        lost, status = await _change_role(bot, db, admin, request_id, data, text)
    await context.clear()
    # Plain text: `lost` names the admin who decided first, as Telegram spells the name.
    return lost or texts.done_note(request_id, status.value)


async def _change_role(
    bot: Bot, db: Database, admin: User, request_id: int, data: dict[str, Any], reason: str
) -> tuple[str | None, Status]:
    async with db.write() as session:
        await staff.remember_name(session, admin.id, admin.full_name)
        request = await session.get(AccessRequest, request_id)
        changed = await request_service.change_role(
            session, request_id, data["role"], data["level"], actor_id=admin.id, reason=reason
        )
        if changed and request is not None:
            await enqueue_card_refresh(session, request_id, request.telegram_id)
            await enqueue_notice(session, request, "role_changed")
    if not changed or request is None:
        return await _lost_race(db, request_id), Status.SUBMITTED
    return None, Status.SUBMITTED


async def on_cancel_input(message: Message, bot: Bot, fsm_storage: BaseStorage) -> None:
    if message.from_user is not None:
        await input_context(fsm_storage, bot, message.chat.id, message.from_user.id).clear()
    await message.reply(texts.INPUT_CANCELLED)


# --- queue, search, card, history -------------------------------------------------------------


def _list_keyboard(rows: Sequence[Listed], page: int, pages: int) -> InlineKeyboardMarkup:
    keyboard = [
        [
            InlineKeyboardButton(
                text=keyboards.short(
                    texts.queue_item(r.id, r.submitted_at, r.org_short_name or r.org_full_name)
                ),
                callback_data=QueueCb(action="open", value=r.id).pack(),
            )
        ]
        for r in rows
    ]
    nav = []
    if page > 0:
        nav.append(
            InlineKeyboardButton(
                text="◀️", callback_data=QueueCb(action="page", value=page - 1).pack()
            )
        )
    if page < pages - 1:
        nav.append(
            InlineKeyboardButton(
                text="▶️", callback_data=QueueCb(action="page", value=page + 1).pack()
            )
        )
    if nav:
        keyboard.append(nav)
    return InlineKeyboardMarkup(inline_keyboard=keyboard)


async def _queue_view(db: Database, page: int) -> tuple[str, InlineKeyboardMarkup]:
    async with db.read() as session:
        rows, total = await RequestRepository(session).queue(
            OPEN_STATUSES, limit=QUEUE_PAGE, offset=page * QUEUE_PAGE
        )
    pages = max(1, -(-total // QUEUE_PAGE))
    return texts.queue_page(total, page, pages), _list_keyboard(rows, page, pages)


async def on_queue(message: Message, db: Database) -> None:
    text, keyboard = await _queue_view(db, 0)
    await message.answer(text, reply_markup=keyboard)


async def open_card(
    bot: Bot,
    db: Database,
    settings: Settings,
    admin_id: int,
    chat_id: int,
    request_id: int,
    via: str = "req",
) -> bool:
    async with db.write() as session:
        if await session.get(AccessRequest, request_id) is None:
            return False
        await audit.record_views(session, [request_id], actor_id=admin_id, via=via)
    await post_card(bot, db, settings, request_id, chat_ids=[chat_id])
    return True


async def on_queue_button(
    query: CallbackQuery,
    callback_data: QueueCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    settings: Settings,
) -> None:
    message = query.message if isinstance(query.message, Message) else None
    if message is None:
        callback_answer.text = texts.STALE_BUTTON
        return
    if callback_data.action == "page":
        text, keyboard = await _queue_view(db, max(0, callback_data.value))
        await message.edit_text(text, reply_markup=keyboard)
    elif not await open_card(
        bot, db, settings, query.from_user.id, message.chat.id, callback_data.value, "list"
    ):
        callback_answer.text = texts.REQUEST_NOT_FOUND


def _number(command: CommandObject) -> int | None:
    return ascii_number(command.args or "")


async def on_req(
    message: Message, command: CommandObject, bot: Bot, db: Database, settings: Settings
) -> None:
    number = _number(command)
    if number is None:
        await message.answer(texts.REQ_USAGE)
        return
    admin_id = message.from_user.id if message.from_user else 0
    if not await open_card(bot, db, settings, admin_id, message.chat.id, number):
        await message.answer(texts.REQUEST_NOT_FOUND)


async def on_history(message: Message, command: CommandObject, db: Database) -> None:
    number = _number(command)
    if number is None:
        await message.answer(texts.HISTORY_USAGE)
        return
    async with db.read() as session:
        found = await session.get(AccessRequest, number) is not None
        if found:
            events = await EventRepository(session).for_request(number)
            names = await staff.names(session, {e.actor_id for e in events if e.actor_id})
    if not found:
        await message.answer(texts.REQUEST_NOT_FOUND)
        return
    lines = []
    for event in events:
        who = names.get(event.actor_id or 0) or (
            "заявитель"
            if event.action in ("created", "resubmitted", "consent_withdrawn", "erased")
            else texts.staff_name(event.actor_id, names)
        )
        details = event.details or {}
        extra = [
            texts.change_detail(field, old, new)
            for field, (old, new) in details.get("changes", {}).items()
        ]
        if details.get("fields") and event.action == "returned":
            fields = [texts.RETURN_FIELD_NAMES.get(f, f) for f in details["fields"]]
            extra.append(texts.fields_detail(fields))
        if details.get("reason"):
            extra.append(texts.reason_detail(str(details["reason"])))
        if event.action == audit.VIEWED:
            extra.append(texts.view_via(str(details.get("via") or "")))
            if event.actor_id is None:
                who = texts.VIEW_SERVER if details.get("cli") else texts.VIEW_NOBODY
        if event.action == "erased" and details.get("rule"):
            who = texts.ERASED_BY_RULE
        lines.append(texts.history_line(event.at, who, event.action, extra))
    if _shows_personal_values(events):
        # A correction's old → new SNILS, name or e-mail is the person's full data: a view.
        async with db.write() as session:
            viewer = message.from_user.id if message.from_user else None
            await audit.record_views(session, [number], actor_id=viewer, via="history")
    await message.answer(_fit(texts.history(number, lines)))


def _shows_personal_values(events: Sequence[RequestEvent]) -> bool:
    return any(
        field in PERSONAL_COLUMNS
        for event in events
        for field in (event.details or {}).get("changes", {})
    )


def _fit(text: str, limit: int = 4000) -> str:
    """Keep the newest part of a long history within Telegram's message limit."""
    if len(text) <= limit:
        return text
    head, _, body = text.partition("\n\n")
    lines = body.split("\n")
    while lines and len(head) + 7 + len("\n".join(lines)) > limit:
        lines.pop(0)
    return head + "\n\n…\n" + "\n".join(lines)


async def on_find(message: Message, command: CommandObject, db: Database) -> None:
    """A SNILS and an e-mail are looked up by their indexes; words through the word index."""
    query = (command.args or "").strip()
    words = query_words(query)
    digits = "".join(ch for ch in query if ch.isascii() and ch.isdigit())
    snils_typed = len(digits) >= 9 and len(digits) == sum(ch.isalnum() for ch in query)
    if snils_typed:
        words = [digits]  # a SNILS typed with separators
    if not words:
        await message.answer(texts.FIND_USAGE)
        return
    async with db.read() as session:
        repository = RequestRepository(session)
        rows: list[Listed] = []
        if snils_typed and len(digits) == 11:
            rows = await repository.by_snils(format_snils(digits), limit=QUEUE_PAGE)
        elif _EMAIL.fullmatch(query):
            rows = await repository.by_email(query, limit=QUEUE_PAGE)
        if not rows:
            rows = await repository.search(words, limit=QUEUE_PAGE)
    if rows:
        async with db.write() as session:
            await audit.record_views(
                session,
                [r.id for r in rows],
                actor_id=message.from_user.id if message.from_user else None,
                via="find",
            )
    await message.answer(texts.found(len(rows)), reply_markup=_list_keyboard(rows, 0, 1))


def admin_router() -> Router:
    router = Router(name="admin")
    for observer in (router.message, router.callback_query):
        observer.filter(AdminScope())
        observer.middleware(AdminOnly())
    router.message.register(on_cancel_input, Command("cancel"), HasPendingInput())
    router.message.register(on_queue, Command("queue"))
    router.message.register(on_find, Command("find"))
    router.message.register(on_req, Command("req"))
    router.message.register(on_history, Command("history"))
    router.message.register(on_admin_input, AwaitingInput())
    router.message.register(on_stray_input, StrayInput())
    router.callback_query.register(on_card_button, AdminCb.filter())
    router.callback_query.register(on_queue_button, QueueCb.filter())
    return router
