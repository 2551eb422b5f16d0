"""Bot API session: a custom server (TELEGRAM_API_URL) and retries after 429 (aiogram
does not retry `TelegramRetryAfter` by itself)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import (
    CopyMessage,
    ForwardMessage,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.client.session.base import BaseSession

log = logging.getLogger(__name__)


class RetryAfterMiddleware(BaseRequestMiddleware):
    def __init__(self, attempts: int = 3, max_wait: float = 60.0) -> None:
        self.attempts = attempts
        self.max_wait = max_wait

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Any:
        for attempt in range(1, self.attempts + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if attempt == self.attempts or exc.retry_after > self.max_wait:
                    raise
                log.warning(
                    "flood control on %s: waiting %ss", type(method).__name__, exc.retry_after
                )
                await asyncio.sleep(exc.retry_after)
        raise AssertionError("unreachable")


class Gcra:
    """Generic cell rate algorithm: `rate` a second on average, bursts of up to `burst`.
    A caller reserves its slot before it sleeps, so concurrent callers queue in order."""

    def __init__(self, rate: float, burst: int) -> None:
        self.interval = 1.0 / rate
        self.tolerance = (burst - 1) * self.interval
        self.tat = 0.0  # theoretical arrival time of the next call

    def reserve(self, now: float) -> float:
        """The delay before this call may go out."""
        tat = max(self.tat, now)
        self.tat = tat + self.interval
        return max(0.0, tat - self.tolerance - now)


PACED = (SendMessage, SendDocument, SendPhoto, CopyMessage, ForwardMessage)


class PacingMiddleware(BaseRequestMiddleware):
    """Keeps sends under Telegram's limits instead of running into 429: about 30 messages a
    second for the bot and 20 a minute per group (the admin and support chats on a deadline
    day). Private chats are not paced: a person does not type faster than the bot answers."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self.bot_limit = Gcra(rate=30, burst=30)
        self.groups: dict[int | str, Gcra] = {}

    def _group(self, chat_id: int | str) -> Gcra:
        bucket = self.groups.get(chat_id)
        if bucket is None:
            if len(self.groups) > 10_000:  # forget idle groups
                now = self.clock()
                self.groups = {k: g for k, g in self.groups.items() if g.tat > now}
            bucket = self.groups[chat_id] = Gcra(rate=20 / 60, burst=20)
        return bucket

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Any:
        if isinstance(method, PACED):
            now = self.clock()
            delay = self.bot_limit.reserve(now)
            chat_id = method.chat_id
            if isinstance(chat_id, str) or chat_id < 0:
                delay = max(delay, self._group(chat_id).reserve(now))
            if delay > 0:
                await self.sleep(delay)
        return await make_request(bot, method)


def make_session(api_url: str | None) -> BaseSession:
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(api_url)) if api_url else AiohttpSession()
    )
    session.middleware(RetryAfterMiddleware())
    session.middleware(PacingMiddleware())
    return session
