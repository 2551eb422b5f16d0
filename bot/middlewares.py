"""Update-level middleware: in-flight tracking for a clean shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class InFlightMiddleware(BaseMiddleware):
    """Counts updates being handled so shutdown can wait for them instead of cancelling them,
    and remembers their ids, so a polling shutdown confirms to Telegram exactly the updates
    that were handled (`confirm_offset`)."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._running: set[int] = set()
        self.highest_seen: int | None = None

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        update_id = event.update_id if isinstance(event, Update) else None
        self._count += 1
        self._idle.clear()
        if update_id is not None:
            self._running.add(update_id)
            if self.highest_seen is None or update_id > self.highest_seen:
                self.highest_seen = update_id
        try:
            return await handler(event, data)
        finally:
            self._count -= 1
            if update_id is not None:
                self._running.discard(update_id)
            if self._count == 0:
                self._idle.set()

    @property
    def in_flight(self) -> int:
        return self._count

    def confirm_offset(self) -> int | None:
        """The getUpdates offset that confirms every update handled and none still running:
        an update left unfinished (and those after it) comes again on the next start."""
        if self._running:
            return min(self._running)
        return None if self.highest_seen is None else self.highest_seen + 1

    async def drain(self, seconds: float) -> bool:
        await asyncio.sleep(0)  # updates handed over a moment ago start counting now
        try:
            async with asyncio.timeout(seconds):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True
