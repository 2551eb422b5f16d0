"""Anonymous group admins (and posts on behalf of a channel) in the staff chats.

Telegram delivers such a message with `sender_chat` set and `from_user` = GroupAnonymousBot
(1087968824): the bot cannot tell which admin wrote it, so it can neither check their rights nor
relay their answer. Ignored silently, an operator's answer would never reach the applicant and
nobody would know: the operator is told how to answer instead, once per topic (in a group
without topics, once per replied-to message), and at every command. The notice is the same
text for everyone: nothing of the applicant is in it.
"""

from __future__ import annotations

from collections import OrderedDict

from aiogram import Bot, Router
from aiogram.filters import Filter
from aiogram.types import Message

from bot import texts
from bot.access import StaffChat
from bot.config import Settings
from bot.filters import HasContent

GROUP_ANONYMOUS_BOT = 1087968824
_TOLD_LIMIT = 10_000
_told: OrderedDict[tuple[int, int, str], None] = OrderedDict()


class SentAsChat(Filter):
    """Posted as the group (an anonymous admin) or as a channel, not by a person."""

    async def __call__(self, message: Message) -> bool:
        return message.sender_chat is not None and not message.is_automatic_forward


def _place(message: Message, bot: Bot, settings: Settings) -> str | None:
    """Where the message would have mattered, or None for chatter the bot ignores anyway."""
    reply = message.reply_to_message
    replies_to_bot = (
        reply is not None and reply.from_user is not None and reply.from_user.id == bot.id
    )
    if message.chat.id in settings.support_chats:
        if message.is_topic_message and message.message_thread_id is not None:
            return f"topic:{message.message_thread_id}"
        if reply is not None:
            return f"reply:{reply.message_id}"
        return None
    if replies_to_bot and reply is not None:  # an admin's reason typed as a reply to a prompt
        return f"reply:{reply.message_id}"
    return None


def _first_time(key: tuple[int, int, str]) -> bool:
    if key in _told:
        return False
    _told[key] = None
    if len(_told) > _TOLD_LIMIT:
        _told.popitem(last=False)
    return True


async def on_anonymous(message: Message, bot: Bot, settings: Settings) -> None:
    text = message.text or message.caption or ""
    if text.startswith("//"):
        return  # a note for colleagues: nothing was to be relayed
    if text.startswith("/"):
        await message.reply(texts.ANONYMOUS_ADMIN)
        return
    place = _place(message, bot, settings)
    if place is not None and _first_time((bot.id, message.chat.id, place)):
        await message.reply(texts.ANONYMOUS_ADMIN)


def anonymous_router() -> Router:
    router = Router(name="anonymous")
    router.message.filter(StaffChat(), SentAsChat())
    router.message.register(on_anonymous, HasContent())
    return router
