"""Which messenger a bot talks to, and the bot of each messenger this process runs.

A module of its own, below the handlers, the middlewares and the outbox, which all ask.
"""

from __future__ import annotations

from collections.abc import Iterator

from aiogram import Bot

from services.accounts import Messenger, messenger_of


def bot_messenger(bot: Bot) -> Messenger:
    """MAX's session says it is MAX's (bot/max/session.py); every other is Telegram's."""
    return Messenger(getattr(bot.session, "messenger", Messenger.TELEGRAM))


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
