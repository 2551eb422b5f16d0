"""Rights, checked for every staff message and every staff button press (not only by hiding
buttons): a router's inner middleware, so it runs only when one of its handlers matched."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, User
from aiogram.utils.callback_answer import CallbackAnswer

from bot import texts
from db.database import Database
from services import staff
from services.staff import StaffRole

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class StaffOnly(BaseMiddleware):
    """Lets through staff with one of `roles`; anyone else gets «Нет доступа» and nothing
    happens. With `quiet`, plain messages of others are ignored without an answer (members
    chatting in the support group), and only their commands are answered."""

    def __init__(self, roles: frozenset[StaffRole], *, quiet: bool = False) -> None:
        self.roles = roles
        self.quiet = quiet

    async def denied(self, event: TelegramObject, user: User | None, data: dict[str, Any]) -> None:
        """Hook for what else to undo for someone without the rights."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        db: Database = data["db"]
        role = None
        if user is not None:
            async with db.read() as session:
                role = await staff.role_of(session, user.id)
        if role in self.roles:
            return await handler(event, data)
        await self.denied(event, user, data)
        if isinstance(event, CallbackQuery):
            answer: CallbackAnswer = data["callback_answer"]
            answer.text, answer.show_alert = texts.NO_ACCESS, True
        elif isinstance(event, Message):
            if not self.quiet or (event.text or "").startswith("/"):
                await event.reply(texts.NO_ACCESS)
        return None
