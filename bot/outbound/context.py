"""What every kind of outbox row is delivered with: the bot of the row's messenger (through
`call`, which paces under that messenger's limits), every bot, the database, the settings,
the clock.

A module of its own so that the deliverers (cards, the support desk, reminders…) and the
delivery loop that calls them both depend on it, and not on each other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from aiogram import Bot
from aiogram.methods import (
    CopyMessage,
    CreateForumTopic,
    ForwardMessage,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.messengers import Bots
from bot.outbound.crossing import FileCache
from bot.outbound.pacing import Pacer
from db.database import Database
from db.outbox import Envelope
from services.outbox import Outcome

T = TypeVar("T")
# Calls that add a message to a chat (what the per-group limit counts).
CREATES_MESSAGE = (
    SendMessage,
    SendDocument,
    SendPhoto,
    CopyMessage,
    ForwardMessage,
    CreateForumTopic,
)


@dataclass
class Context:
    """What a kind's handler needs: the bot (through `call`, which paces), the database,
    the settings."""

    bot: Bot
    db: Database
    settings: Settings
    pacer: Pacer
    now: Callable[[], datetime]
    # Every messenger's bot, for what crosses from one to the other (a question from MAX into
    # the Telegram desk, the operator's answer back).
    bots: Bots | None = None
    # Files carried across, fetched once per process (the delivery loop's own cache).
    files: FileCache = field(default_factory=FileCache)

    async def call(self, method: TelegramMethod[T], chat_id: int | str | None = None) -> T:
        target = chat_id if chat_id is not None else getattr(method, "chat_id", None)
        if isinstance(target, int):
            await self.pacer.acquire(target, isinstance(method, CREATES_MESSAGE))
        return await self.bot(method)


Handler = Callable[[Context, Envelope], Awaitable[Outcome | None]]
BlockedHook = Callable[[Envelope], Callable[[AsyncSession], Awaitable[None]] | None]
