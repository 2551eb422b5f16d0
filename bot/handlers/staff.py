"""Staff management by admins (/staff) and joining by a one-time invite link."""

from __future__ import annotations

import contextlib

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot import keyboards, texts
from bot.callbacks import StaffCb
from bot.handlers.admin import AdminOnly, AdminScope
from db.database import Database
from services import staff
from services.staff import StaffRole

INVITE_PREFIX = "inv_"


async def _staff_view(db: Database) -> tuple[str, InlineKeyboardMarkup]:
    async with db.read() as session:
        members = await staff.members(session)
    rows = [(m.display_name or f"id {m.telegram_id}", m.telegram_id, m.role) for m in members]
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
        for name, uid, _ in rows
    ]
    return texts.staff_list(rows), InlineKeyboardMarkup(inline_keyboard=keyboard)


async def _remove(db: Database, actor: int, user_id: int) -> str:
    async with db.write() as session:
        role = await staff.role_of(session, user_id)
        if role is None:
            return texts.STAFF_NOT_FOUND
        if role is StaffRole.ADMIN and await staff.admin_count(session) <= 1:
            return texts.STAFF_LAST_ADMIN
        await staff.remove(session, actor, user_id)
    return texts.staff_removed(user_id)


async def on_staff(message: Message, command: CommandObject, db: Database) -> None:
    actor = message.from_user.id if message.from_user else 0
    args = (command.args or "").split()
    if not args:
        text, keyboard = await _staff_view(db)
        await message.answer(text, reply_markup=keyboard)
        return
    if (
        len(args) == 3
        and args[0] == "add"
        and args[1] in ("admin", "operator")
        and args[2].isdigit()
    ):
        async with db.write() as session:
            added = await staff.add(session, actor, int(args[2]), StaffRole(args[1]))
        await message.answer(
            texts.staff_added(int(args[2]), args[1]) if added else texts.STAFF_UNCHANGED
        )
        return
    if len(args) == 2 and args[0] == "remove" and args[1].isdigit():
        await message.answer(await _remove(db, actor, int(args[1])))
        return
    await message.answer(texts.STAFF_USAGE)


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
        async with db.write() as session:
            invite = await staff.create_invite(session, query.from_user.id, role)
        me = await bot.me()
        link = f"https://t.me/{me.username}?start={INVITE_PREFIX}{invite.token}"
        await message.answer(texts.invite_link(role.value, link, invite.expires_at))
        return
    if callback_data.action == "remove":
        callback_answer.text = await _remove(db, query.from_user.id, callback_data.user_id)
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
