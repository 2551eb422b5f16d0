"""Filters on what a message is (scopes and rights: bot/access.py). All async: aiogram runs
sync filters in a worker thread."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import Message

# What a person's message may carry (anything else is a service message).
CONTENT = (
    "text",
    "photo",
    "document",
    "video",
    "voice",
    "audio",
    "animation",
    "sticker",
    "video_note",
)


class HasContent(Filter):
    """A real message, not a service one (topic created, member joined …)."""

    async def __call__(self, message: Message) -> bool:
        return any(getattr(message, kind) is not None for kind in CONTENT)
