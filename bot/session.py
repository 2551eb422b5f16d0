"""Bot API session: a custom server (TELEGRAM_API_URL) and a request timeout.

Nothing here waits for Telegram's limits: an update handler's own answer goes out at once,
and whatever the bot sends on its own is paced and retried by the delivery loop
(bot/delivery.py, bot/pacing.py). A session middleware that slept for a 429 or for a
group's pace would hold an update handler, and with it the dialogs behind it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

if TYPE_CHECKING:
    from aiogram.client.session.base import BaseSession


def make_session(api_url: str | None, timeout: float = 20.0) -> BaseSession:
    if api_url:
        return AiohttpSession(api=TelegramAPIServer.from_base(api_url), timeout=timeout)
    return AiohttpSession(timeout=timeout)
