"""Which messenger a bot talks to, and the bot of each messenger this process runs.

A module of its own, below the handlers, the middlewares and the outbox, which all ask.
"""

from __future__ import annotations

from collections.abc import Iterator

from aiogram import Bot

from bot.max.render import render_html
from services.accounts import Messenger, messenger_of


def bot_messenger(bot: Bot) -> Messenger:
    """MAX's session says it is MAX's (bot/max/session.py); every other is Telegram's."""
    return Messenger(getattr(bot.session, "messenger", Messenger.TELEGRAM))


# Where a deep link opens the bot with a payload: Telegram's `/start <payload>`, MAX's
# `bot_started` with it (dev.max.ru/docs-api: https://max.ru/<bot>?start=<payload>).
_START_LINKS = {
    Messenger.TELEGRAM: "https://t.me/{}?start={}",
    Messenger.MAX: "https://max.ru/{}?start={}",
}


async def start_link(bot: Bot, payload: str) -> str:
    """A deep link that opens this bot, on its messenger, with `payload`."""
    me = await bot.me()
    return _START_LINKS[bot_messenger(bot)].format(me.username, payload)


def fits_one_message(bot: Bot, html: str) -> bool:
    """Whether `html` goes out as one message on the bot's messenger. MAX counts the text as
    sent (escapes included) and a longer one is sent in parts (bot/max/render.py), which an
    edit of one message cannot do; Telegram's own limit is the texts' business."""
    if bot_messenger(bot) is not Messenger.MAX:
        return True
    return len(render_html(html)) == 1


class Bots:
    """The bot of each messenger this process runs; a chat's key says which one is its."""

    def __init__(self, *bots: Bot) -> None:
        self._by_messenger = {bot_messenger(bot): bot for bot in bots}

    def get(self, messenger: Messenger) -> Bot | None:
        return self._by_messenger.get(messenger)

    def for_chat(self, chat_id: int) -> Bot | None:
        return self._by_messenger.get(messenger_of(chat_id))

    @property
    def telegram(self) -> Bot | None:
        return self._by_messenger.get(Messenger.TELEGRAM)

    def __iter__(self) -> Iterator[Bot]:
        return iter(self._by_messenger.values())
