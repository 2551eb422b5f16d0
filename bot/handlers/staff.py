"""Staff management by admins (/staff) and joining by a one-time invite link.

An invite link goes only to the inviting admin's private chat, never into the group where
the button was pressed: everyone there would see it, and whoever opened it first would be
staff."""

from __future__ import annotations

import contextlib
import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot import keyboards, texts
from bot.args import user_id as parse_user_id
from bot.callbacks import StaffCb
from bot.handlers.admin import AdminOnly, AdminScope
from db.database import Database
from services import staff
from services.staff import Change, Removal, StaffRole

log = logging.getLogger(__name__)
INVITE_PREFIX = "inv_"


async def _staff_view(db: Database) -> tuple[str, InlineKeyboardMarkup]:
    async with db.read() as session:
        members = await staff.members(session)
    rows = [
        (m.display_name or f"id {m.telegram_id}", m.telegram_id, m.role, m.owner) for m in members
    ]
    keyboard = [
        [
            InlineKeyboardButton(
                text=texts.BTN_INVITE_ADMIN,
                callback_data=StaffCb(action="invite", user_id=0).pack(),
            )
        ],
        [
            InlineKeyboardButton(
                text=texts.BTN_INVITE_OPERATOR,
                callback_data=StaffCb(action="invite", user_id=1).pack(),
            )
        ],
    ]
    keyboard += [
        [
            InlineKeyboardButton(
                text=keyboards.short(texts.btn_remove(name)),
                callback_data=StaffCb(action="remove", user_id=uid).pack(),
            )
        ]
        for name, uid, _, owner in rows
        if not owner  # owners are removed in ADMIN_IDS, not here
    ]
    return texts.staff_list(rows), InlineKeyboardMarkup(inline_keyboard=keyboard)


async def _remove(db: Database, actor: int, user_id: int) -> str:
    async with db.write() as session:
        outcome = await staff.remove(session, actor, user_id)
    if outcome is Removal.NOT_FOUND:
        return texts.STAFF_NOT_FOUND
    if outcome is Removal.OWNER:
        return texts.staff_owner(user_id)
    if outcome is Removal.LAST_ADMIN:
        return texts.STAFF_LAST_ADMIN
    return texts.staff_removed(user_id)


async def _add(db: Database, actor: int, user_id: int, role: StaffRole) -> str:
    async with db.write() as session:
        outcome = await staff.add(session, actor, user_id, role)
    if outcome is Change.OWNER:
        return texts.staff_owner(user_id)
    if outcome is Change.LAST_ADMIN:
        return texts.STAFF_LAST_ADMIN
    if outcome is Change.UNCHANGED:
        return texts.STAFF_UNCHANGED
    return texts.staff_added(user_id, role.value)


async def on_staff(message: Message, command: CommandObject, db: Database) -> None:
    actor = message.from_user.id if message.from_user else 0
    args = (command.args or "").split()
    if not args:
        text, keyboard = await _staff_view(db)
        await message.answer(text, reply_markup=keyboard)
        return
    if len(args) == 3 and args[0] == "add" and args[1] in ("admin", "operator"):
        target = parse_user_id(args[2])
        if target is not None:
            await message.answer(await _add(db, actor, target, StaffRole(args[1])))
            return
    if len(args) == 2 and args[0] == "remove":
        target = parse_user_id(args[1])
        if target is not None:
            await message.answer(await _remove(db, actor, target))
            return
    await message.answer(texts.STAFF_USAGE)


async def _send_invite(bot: Bot, db: Database, admin_id: int, role: StaffRole) -> bool:
    """Create an invite and send it to the admin's private chat; false (and the invite
    revoked) when the admin has no private chat with the bot yet."""
    async with db.write() as session:
        invite = await staff.create_invite(session, admin_id, role)
    me = await bot.me()
    link = f"https://t.me/{me.username}?start={INVITE_PREFIX}{invite.token}"
    try:
        await bot.send_message(admin_id, texts.invite_link(role.value, link, invite.expires_at))
    except (TelegramForbiddenError, TelegramBadRequest) as exc:
        log.info("invite not delivered privately: %s", type(exc).__name__)
        async with db.write() as session:
            await staff.revoke_invite(session, admin_id, invite.token)
        return False
    return True


async def on_staff_button(
    query: CallbackQuery,
    callback_data: StaffCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
) -> None:
    message = query.message if isinstance(query.message, Message) else None
    if message is None:
        callback_answer.text = texts.STALE_BUTTON
        return
    if callback_data.action == "invite":
        role = StaffRole.ADMIN if callback_data.user_id == 0 else StaffRole.OPERATOR
        if not await _send_invite(bot, db, query.from_user.id, role):
            me = await bot.me()
            callback_answer.text = texts.invite_undeliverable(me.username or "")
            callback_answer.show_alert = True
        elif message.chat.type != "private":
            callback_answer.text, callback_answer.show_alert = texts.INVITE_SENT_PRIVATELY, True
        return
    if callback_data.action == "remove":
        outcome = await _remove(db, query.from_user.id, callback_data.user_id)
        callback_answer.text, callback_answer.show_alert = texts.plain(outcome), True
        text, keyboard = await _staff_view(db)
        with contextlib.suppress(TelegramBadRequest):  # nothing changed
            await message.edit_text(text, reply_markup=keyboard)
        return
    callback_answer.text = texts.STALE_BUTTON


async def accept_invite(message: Message, db: Database, token: str) -> None:
    user = message.from_user
    if user is None:
        return
    async with db.write() as session:
        role = await staff.use_invite(session, token, user.id, user.full_name)
    await message.answer(texts.welcome_staff(role.value) if role else texts.INVITE_INVALID)


def staff_router() -> Router:
    router = Router(name="staff")
    for observer in (router.message, router.callback_query):
        observer.filter(AdminScope())
        observer.middleware(AdminOnly())
    router.message.register(on_staff, Command("staff"))
    router.callback_query.register(on_staff_button, StaffCb.filter())
    return router
