"""Who may do what, and where: every scope filter and rights check of the bot's wings.

Scopes (filters) say where a wing listens: a private chat, the admin chat, the support chat.
Rights (middlewares) are checked for every staff message and every staff button press, not
only by hiding buttons: an inner middleware runs when one of the wing's handlers matched, so
a press or command by someone without the rights changes nothing and is answered «Нет
доступа». A wing declares its scope and rights once, on its parent router
(`bot.handlers`); the check that found the person's role — and a responsible person's
organisation — hands it to the handler (`staff_role`, `organization_id`), which never looks
it up again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.filters import Filter
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import CallbackQuery, Message, TelegramObject, User
from aiogram.utils.callback_answer import CallbackAnswer

from bot import prompts, texts
from bot.config import Settings
from db.database import Database
from services import staff
from services.staff import StaffRole

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

# Who may look at the campaign's figures (order items 3.2, 5).
WATCHERS = frozenset({StaffRole.ADMIN, StaffRole.VIEWER})
# Who answers in the support chat: operators, and admins acting as operators (order item 4.4).
OPERATORS = frozenset({StaffRole.OPERATOR, StaffRole.ADMIN})


# --- scopes ---------------------------------------------------------------------------------


def _message_of(event: TelegramObject) -> Message | None:
    message = event.message if isinstance(event, CallbackQuery) else event
    return message if isinstance(message, Message) else None


class PrivateChat(Filter):
    async def __call__(self, event: TelegramObject) -> bool:
        message = _message_of(event)
        return message is not None and message.chat.type == "private"


class AdminScope(Filter):
    """An admins' group (on either messenger), or a private chat (where rights are then
    checked per person)."""

    async def __call__(self, event: TelegramObject, settings: Settings) -> bool:
        message = _message_of(event)
        if message is None:
            return False
        return message.chat.type == "private" or message.chat.id in settings.admin_chats


class SupportChat(Filter):
    async def __call__(self, event: TelegramObject, settings: Settings) -> bool:
        message = _message_of(event)
        return message is not None and message.chat.id in settings.support_chats


class StaffChat(Filter):
    """An admins' group or an operators' group."""

    async def __call__(self, message: Message, settings: Settings) -> bool:
        return message.chat.id in (*settings.support_chats, *settings.admin_chats)


# --- rights ---------------------------------------------------------------------------------


class StaffOnly(BaseMiddleware):
    """Lets through staff with one of `roles`; anyone else gets «Нет доступа» and nothing
    happens, and a prompt the bot was waiting on from them in this chat is forgotten (their
    rights went while it waited). With `quiet`, plain messages of others are ignored without
    an answer (members chatting in the support group), and only their commands are answered."""

    def __init__(
        self, roles: frozenset[StaffRole], *, quiet: bool = False, organization: bool = False
    ) -> None:
        self.roles = roles
        self.quiet = quiet
        self.organization = organization  # a responsible person must have their organisation

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        db: Database = data["db"]
        standing = None
        if user is not None:
            async with db.read() as session:
                standing = await staff.standing_of(session, user.id)
        if standing is not None and standing[0] in self.roles:
            role, organization = standing
            if organization is not None or not self.organization:
                data["staff_role"], data["organization_id"] = role, organization
                return await handler(event, data)
        await self._deny(event, user, data)
        return None

    async def _deny(self, event: TelegramObject, user: User | None, data: dict[str, Any]) -> None:
        if user is not None and isinstance(event, Message) and data.get("prompt") is not None:
            storage: BaseStorage = data["fsm_storage"]
            bot: Bot = data["bot"]
            await prompts.forget(storage, bot, event.chat.id, user.id)
        if isinstance(event, CallbackQuery):
            answer: CallbackAnswer = data["callback_answer"]
            answer.text, answer.show_alert = texts.NO_ACCESS, True
        elif isinstance(event, Message):
            if not self.quiet or (event.text or "").startswith("/"):
                await event.reply(texts.NO_ACCESS)


def admins_only() -> StaffOnly:
    return StaffOnly(frozenset({StaffRole.ADMIN}))


def watchers_only() -> StaffOnly:
    return StaffOnly(WATCHERS)


def operators_only() -> StaffOnly:
    """Operators, and admins acting as operators; others' chatter is not for the bot."""
    return StaffOnly(OPERATORS, quiet=True)


def responsible_only() -> StaffOnly:
    """A responsible person, with the organisation they answer for (order item 2.1)."""
    return StaffOnly(frozenset({StaffRole.RESPONSIBLE}), organization=True)
