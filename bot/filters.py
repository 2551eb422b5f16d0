"""Audience filters. All async: aiogram runs sync filters in a worker thread."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message, TelegramObject


def _chat_type(event: TelegramObject) -> str | None:
    if isinstance(event, Message):
        return event.chat.type
    if isinstance(event, CallbackQuery) and event.message is not None:
        return event.message.chat.type
    return None


class PrivateChat(Filter):
    async def __call__(self, event: TelegramObject) -> bool:
        return _chat_type(event) == "private"


class HasText(Filter):
    async def __call__(self, message: Message) -> bool:
        return message.text is not None
