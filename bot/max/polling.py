"""Long polling of MAX (``GET /updates``) with the marker kept in the database.

MAX's marker (dev.max.ru/docs-api «GET /updates»): a poll with ``marker=m`` marks every
update before ``m`` read, and the answer's ``marker`` is where the next poll starts. The
marker is stored in ``max_markers`` only after every update of the batch was handled, so:
- a restart resumes at the stored marker: nothing handled is repeated, nothing is lost;
- a crash (or a kill) halfway through a batch stores nothing for it, so the whole batch comes
  again after the restart: its updates handled before the crash are handled a second time.
  That is the price of losing none; the bot's handlers already take a repeated press or
  message (as after a Telegram redelivery).
Updates of one chat are handled strictly in order, different chats at once.
The very first poll has no marker, and MAX then answers only the newest unread update (the
older ones are lost: its current schema); from then on the stored marker is always passed.
Errors: network, 5xx and 429 are waited out with a growing pause (capped); 401 (a wrong or
revoked token) stops polling, as nothing will change until a person fixes the setting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram.types import Update
from sqlalchemy import select

from bot.max.client import MaxApiError, MaxClient, MaxNetworkError
from db.database import Database
from db.models import MaxMarker, utcnow

log = logging.getLogger(__name__)
Convert = Callable[[dict[str, Any]], Update | None]
Feed = Callable[[Update], Awaitable[Any]]

BACKOFF_START = 1.0
BACKOFF_CAP = 30.0


def chat_of(update: Update) -> int | None:
    """The chat an update belongs to (None: no ordering needed)."""
    event = update.message or update.edited_message
    if event is not None:
        return event.chat.id
    if update.callback_query is not None:
        query = update.callback_query
        return query.message.chat.id if query.message is not None else query.from_user.id
    return None


async def feed_in_order(updates: list[Update], feed: Feed) -> None:
    """Feed the updates, one chat's in order, different chats concurrently; an exception of
    a handler is logged (by type) and does not stop the others."""
    by_chat: dict[int | None, list[Update]] = {}
    for update in updates:
        by_chat.setdefault(chat_of(update), []).append(update)

    async def run(queue: list[Update]) -> None:
        for update in queue:
            try:
                await feed(update)
            except Exception as exc:
                log.error("MAX update %s failed: %s", update.update_id, type(exc).__name__)

    async with asyncio.TaskGroup() as group:
        for queue in by_chat.values():
            group.create_task(run(queue))


class MaxPolling:
    def __init__(
        self,
        client: MaxClient,
        db: Database,
        convert: Convert,
        feed: Feed,
        *,
        bot_id: int,
        limit: int = 100,
        timeout: int = 30,  # MAX holds a long poll this long (its `timeout` parameter)
        backoff_cap: float = BACKOFF_CAP,
    ) -> None:
        self.client = client
        self.db = db
        self.convert = convert
        self.feed = feed
        self.bot_id = bot_id
        self.limit = limit
        self.timeout = timeout
        self.backoff_cap = backoff_cap

    async def load_marker(self) -> int | None:
        async with self.db.read() as session:
            return await session.scalar(
                select(MaxMarker.marker).where(MaxMarker.bot_id == self.bot_id)
            )

    async def store_marker(self, marker: int) -> None:
        async with self.db.write() as session:
            row = await session.get(MaxMarker, self.bot_id)
            if row is None:
                session.add(MaxMarker(bot_id=self.bot_id, marker=marker, updated_at=utcnow()))
            else:
                row.marker, row.updated_at = marker, utcnow()

    async def poll_once(self, marker: int | None) -> tuple[list[dict[str, Any]], int | None]:
        params: dict[str, Any] = {"limit": self.limit, "timeout": self.timeout}
        if marker is not None:
            params["marker"] = marker
        # The HTTP timeout outlasts MAX's hold of the long poll.
        answer = await self.client.request(
            "GET", "/updates", params=params, timeout=self.timeout + 15
        )
        updates = answer.get("updates") or []
        new_marker = answer.get("marker")
        return list(updates), (marker if new_marker is None else int(new_marker))

    async def handle(self, raw_updates: list[dict[str, Any]]) -> None:
        converted = [update for raw in raw_updates if (update := self.convert(raw)) is not None]
        await feed_in_order(converted, self.feed)

    async def run(self, stop: asyncio.Event) -> None:
        marker = await self.load_marker()
        pause = BACKOFF_START
        while not stop.is_set():
            poll = asyncio.ensure_future(self.poll_once(marker))
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({poll, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not poll.done():  # stop while waiting on MAX: no batch in hand
                poll.cancel()
                await asyncio.gather(poll, return_exceptions=True)
                return
            try:
                raw_updates, new_marker = poll.result()
            except MaxApiError as exc:
                if exc.status == 401:
                    log.error("MAX polling stopped: the token was refused (%s)", exc.code)
                    return
                if exc.status != 429 and exc.status < 500:
                    log.error("MAX polling refused: %s %s", exc.status, exc.code)
                log.warning("MAX polling: %s %s, again in %.0f s", exc.status, exc.code, pause)
                pause = await self._pause(stop, pause)
                continue
            except MaxNetworkError as exc:
                log.warning("MAX polling: %s, again in %.0f s", exc, pause)
                pause = await self._pause(stop, pause)
                continue
            pause = BACKOFF_START
            if raw_updates:
                await self.handle(raw_updates)
            if new_marker is not None and new_marker != marker:
                await self.store_marker(new_marker)
                marker = new_marker

    async def _pause(self, stop: asyncio.Event, pause: float) -> float:
        try:
            await asyncio.wait_for(stop.wait(), pause)
        except TimeoutError:
            pass
        return min(pause * 2, self.backoff_cap)
