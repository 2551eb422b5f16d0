"""Update-level middleware: in-flight tracking for a clean shutdown; cleaning typed text;
the answer to a button press."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import CallbackQuery, Message, TelegramObject, Update, User
from aiogram.utils.callback_answer import CallbackAnswerMiddleware

from bot.messengers import bot_messenger
from bot.session import replying_to_update
from services.accounts import Messenger
from services.typed_text import clean_text, needs_cleaning

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
log = logging.getLogger(__name__)


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
        # Only Telegram's update ids are Telegram's getUpdates offsets; MAX keeps its own
        # marker (bot/max/polling.py).
        telegram = "bot" not in data or bot_messenger(data["bot"]) is Messenger.TELEGRAM
        update_id = event.update_id if isinstance(event, Update) and telegram else None
        self._count += 1
        self._idle.clear()
        if update_id is not None:
            self._running.add(update_id)
            if self.highest_seen is None or update_id > self.highest_seen:
                self.highest_seen = update_id
        try:
            # What the handlers send now answers this update: quick retries (bot.session).
            with replying_to_update():
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


def _clean_user(user: User | None) -> User | None:
    if user is None:
        return None
    names = {"first_name": user.first_name, "last_name": user.last_name}
    if not any(value and needs_cleaning(value) for value in names.values()):
        return user
    first = clean_text(user.first_name).strip() or "—"
    last = clean_text(user.last_name).strip() if user.last_name else None
    return user.model_copy(update={"first_name": first, "last_name": last or None})


# Marks a message whose text or caption was cleaned (an extra field of the copy): a copy by id
# (copyMessage) would carry what was typed, so such a message is relayed by its content.
CLEANED = "vimis_text_cleaned"


def text_was_cleaned(message: Message) -> bool:
    return bool((message.model_extra or {}).get(CLEANED))


def clean_message(message: Message) -> Message:
    """The message with its text, caption and sender's name cleaned (services.typed_text);
    the same object when nothing needed it. Entities of a changed text are dropped: their
    offsets would point at the wrong characters. A message left as it was is copied by id
    where it is relayed (keeping its formatting); a cleaned one is marked (`CLEANED`) and
    relayed by its cleaned content, since a copy would carry the characters taken out."""
    changes: dict[str, Any] = {}
    if message.text is not None and needs_cleaning(message.text):
        changes |= {"text": clean_text(message.text), "entities": None, CLEANED: True}
    if message.caption is not None and needs_cleaning(message.caption):
        changes |= {"caption": clean_text(message.caption), "caption_entities": None}
        changes[CLEANED] = True
    sender = _clean_user(message.from_user)
    if sender is not message.from_user:
        changes["from_user"] = sender
    return message.model_copy(update=changes) if changes else message


class CleanTextMiddleware(BaseMiddleware):
    """The one place where typed text comes in: every message, edited message and button
    press, before any filter or handler sees it."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if isinstance(event, Message):
            event = clean_message(event)
        elif isinstance(event, CallbackQuery):
            sender = _clean_user(event.from_user)
            if sender is not event.from_user:
                event = event.model_copy(update={"from_user": sender})
        return await handler(event, data)


class PressAnswerMiddleware(CallbackAnswerMiddleware):
    """aiogram's answer to every button press, sent after its handler. An answer that still
    fails after the quick retries (bot/session.py) is given up quietly once the handler has
    done its work: telling the person «не получилось ответить» would be untrue; only the
    button's spinner turns a few seconds longer, or a short notice (a stale button's) is
    not shown."""

    async def __call__(
        self,
        handler: Handler,
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, CallbackQuery):
            return await handler(event, data)
        done: list[Any] = []  # the handler's result, once it has returned

        async def handled(event: TelegramObject, data: dict[str, Any]) -> Any:
            done.append(await handler(event, data))
            return done[0]

        try:
            return await super().__call__(handled, event, data)
        except _ANSWER_LOST as exc:
            if not done:  # the handler's own call failed: the error handler tells the person
                raise
            log.warning("answer to a button press not sent: %s", type(exc).__name__)
            return done[0]


_ANSWER_LOST = (TelegramNetworkError, TelegramServerError, TelegramRetryAfter, ClientDecodeError)
