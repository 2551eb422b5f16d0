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


def replies_to_bot(message: Message, bot_id: int) -> bool:
    """A person's reply to one of the bot's own messages, not a command: the cheap first check
    of every filter that waits for an answer to a ForceReply prompt (reasons, comments, a
    broadcast's text), so the storage is read only for such replies."""
    reply = message.reply_to_message
    return (
        message.from_user is not None
        and reply is not None
        and reply.from_user is not None
        and reply.from_user.id == bot_id
        and not (message.text or "").startswith("/")
    )


class HasText(Filter):
    async def __call__(self, message: Message) -> bool:
        return message.text is not None
