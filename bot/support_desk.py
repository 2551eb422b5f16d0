"""The support chat: one thread per applicant, relaying both ways.

With forum topics, each applicant gets a topic, opened by a header with their request
context; without topics, questions are posted in the group and operators answer by reply.
A topic deleted by hand is recreated on the next message; two first messages at once make
one topic (a lock per applicant, and the thread's primary key).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.types import Message
from sqlalchemy import select, update

from bot import keyboards, texts
from bot.config import Settings
from db.database import Database
from db.models import AccessRequest, SupportThread, utcnow
from services import support
from services.snils import mask_snils

log = logging.getLogger(__name__)
T = TypeVar("T")

_locks: dict[int, asyncio.Lock] = {}
# Whether a support chat has topics, per bot, re-checked every few minutes (a group can be
# turned into a forum while the bot runs).
_forum: weakref.WeakKeyDictionary[Bot, dict[int, tuple[bool, float]]] = weakref.WeakKeyDictionary()
FORUM_CHECK_SECONDS = 600


def _lock(user_id: int) -> asyncio.Lock:
    lock = _locks.get(user_id)
    if lock is None:
        if len(_locks) > 10_000:
            for key in [k for k, v in _locks.items() if not v.locked()]:
                del _locks[key]
        lock = _locks[user_id] = asyncio.Lock()
    return lock


def _thread_gone(exc: TelegramBadRequest) -> bool:
    text = exc.message.lower()
    return "thread not found" in text or "topic_id_invalid" in text or "topic_deleted" in text


class SupportDesk:
    def __init__(self, bot: Bot, db: Database, settings: Settings) -> None:
        self.bot = bot
        self.db = db
        self.settings = settings
        self.chat_id = settings.support_chat_id

    async def is_forum(self) -> bool:
        if self.chat_id is None:
            return False
        known = _forum.setdefault(self.bot, {})
        cached = known.get(self.chat_id)
        if cached is not None and time.monotonic() - cached[1] < FORUM_CHECK_SECONDS:
            return cached[0]
        try:
            is_forum = bool((await self.bot.get_chat(self.chat_id)).is_forum)
        except TelegramAPIError:
            return False
        known[self.chat_id] = (is_forum, time.monotonic())
        return is_forum

    # -- context of the applicant -------------------------------------------------------------

    async def _context(self, user_id: int, fallback_name: str) -> tuple[str, str, str]:
        """(topic title, header text, applicant name) from their latest requests."""
        async with self.db.read() as session:
            rows = list(
                await session.scalars(
                    select(AccessRequest)
                    .where(AccessRequest.telegram_id == user_id, AccessRequest.erased_at.is_(None))
                    .order_by(AccessRequest.id.desc())
                    .limit(5)
                )
            )
        name = rows[0].full_name if rows else fallback_name
        organization = (rows[0].org_short_name or rows[0].org_full_name) if rows else None
        requests = [
            (r.id, r.status, r.org_short_name or r.org_full_name, mask_snils(r.snils)) for r in rows
        ]
        return (
            texts.thread_title(name, organization),
            texts.thread_header(user_id, name, requests),
            name,
        )

    async def _open_topic(self, thread: SupportThread, fallback_name: str) -> None:
        title, header, _ = await self._context(thread.user_id, fallback_name)
        assert self.chat_id is not None
        topic = await self.bot.create_forum_topic(self.chat_id, title)
        message = await self.bot.send_message(
            self.chat_id, header, message_thread_id=topic.message_thread_id
        )
        thread.topic_id, thread.title = topic.message_thread_id, title
        thread.header_message_id = message.message_id

    async def thread_for(self, user_id: int, fallback_name: str) -> SupportThread | None:
        """The applicant's thread, created (with a topic) on the first question."""
        if self.chat_id is None:
            return None
        async with _lock(user_id):
            async with self.db.read() as session:
                thread = await support.thread_of(session, user_id)
            if thread is not None and (thread.topic_id or not await self.is_forum()):
                return thread
            fresh = thread is None
            if thread is None:
                thread = SupportThread(
                    user_id=user_id,
                    chat_id=self.chat_id,
                    title=texts.thread_title(fallback_name, None),
                    status="open",
                    opened_at=utcnow(),
                )
            if await self.is_forum():
                await self._open_topic(thread, fallback_name)
            if fresh:
                async with self.db.write() as session:
                    session.add(thread)
            else:
                await self._save_topic(thread)
            return thread

    async def _save_topic(self, thread: SupportThread) -> None:
        """Store the (re)created topic only: the rest of the row may have changed meanwhile."""
        async with self.db.write() as session:
            await session.execute(
                update(SupportThread)
                .where(SupportThread.user_id == thread.user_id)
                .values(
                    topic_id=thread.topic_id,
                    title=thread.title,
                    header_message_id=thread.header_message_id,
                )
            )

    async def _in_thread(
        self, thread: SupportThread, fallback_name: str, send: Callable[[int | None], Awaitable[T]]
    ) -> T:
        """Send into the thread's topic; a topic deleted by hand is recreated once."""
        try:
            return await send(thread.topic_id)
        except TelegramBadRequest as exc:
            if thread.topic_id is None or not _thread_gone(exc):
                raise
        async with _lock(thread.user_id):
            await self._open_topic(thread, fallback_name)
            await self._save_topic(thread)
        return await send(thread.topic_id)

    # -- applicant → operators ----------------------------------------------------------------

    async def relay_question(self, message: Message, step: str | None) -> bool:
        user = message.from_user
        if user is None or self.chat_id is None:
            return False
        chat_id = self.chat_id
        thread = await self.thread_for(user.id, user.full_name)
        if thread is None:
            return False
        async with self.db.write() as session:
            reopened = await support.question_arrived(session, user.id)
        if reopened:
            await self.refresh_header(user.id)
        note = texts.question_note(texts.STEP_NAMES.get(step) if step else None)
        if thread.topic_id is None:  # a plain group: each question says whose it is
            _, header, _ = await self._context(user.id, user.full_name)
            note = f"{note}\n{header}"

        async def send(topic: int | None) -> list[int]:
            posted = []
            if step or topic is None:
                sent = await self.bot.send_message(chat_id, note, message_thread_id=topic)
                posted.append(sent.message_id)
            posted.append(await self._copy(message, chat_id, topic))
            return posted

        posted = await self._in_thread(thread, user.full_name, send)
        async with self.db.write() as session:
            for support_message_id in posted:  # a reply to the note or the copy both count
                support.remember_relay(
                    session, user.id, message.message_id, chat_id, support_message_id
                )
        return True

    async def _copy(self, message: Message, chat_id: int, topic: int | None) -> int:
        try:
            copied = await message.copy_to(chat_id, message_thread_id=topic)
            return copied.message_id
        except TelegramBadRequest as exc:
            if "caption is too long" not in exc.message or not message.caption:
                raise
        # A caption too long to copy: the text first, then the file without it.
        await self.bot.send_message(
            chat_id, message.caption, message_thread_id=topic, parse_mode=None
        )
        copied = await message.copy_to(chat_id, message_thread_id=topic, caption="")
        return copied.message_id

    async def relay_edit(self, message: Message) -> None:
        user = message.from_user
        if user is None or self.chat_id is None:
            return
        chat_id = self.chat_id
        async with self.db.read() as session:
            relayed = await support.relay_by_user_message(session, user.id, message.message_id)
            thread = await support.thread_of(session, user.id)
        if relayed is None or thread is None:
            return
        text = message.text or message.caption or ""

        async def send(topic: int | None) -> None:
            await self.bot.send_message(
                chat_id,
                texts.edited_note(text),
                message_thread_id=topic,
                reply_to_message_id=relayed.support_message_id
                if topic == thread.topic_id
                else None,
            )

        await self._in_thread(thread, user.full_name, send)

    async def refresh_header(self, user_id: int) -> None:
        async with self.db.read() as session:
            thread = await support.thread_of(session, user_id)
        if thread is None or thread.header_message_id is None or self.chat_id is None:
            return
        title, header, _ = await self._context(user_id, thread.title)
        try:
            await self.bot.edit_message_text(
                text=header, chat_id=self.chat_id, message_id=thread.header_message_id
            )
        except TelegramBadRequest:
            pass  # unchanged, or the topic is gone (it is recreated on the next message)
        if title != thread.title and thread.topic_id is not None:
            try:
                await self.bot.edit_forum_topic(self.chat_id, thread.topic_id, name=title)
                async with self.db.write() as session:
                    stored = await session.get(SupportThread, user_id)
                    if stored is not None:
                        stored.title = title
            except TelegramBadRequest:
                pass

    # -- operators → applicant ----------------------------------------------------------------

    async def answer(self, message: Message, thread: SupportThread) -> bool:
        """Copy an operator's message to the applicant, labelled as the specialist's answer
        and with a button to reply; false if the applicant blocked us. The copy is
        remembered: the applicant's reply to it goes back to the thread."""
        try:
            await self.bot.send_message(thread.user_id, texts.OPERATOR_ANSWER_LABEL)
            copied = await message.copy_to(thread.user_id, reply_markup=keyboards.answer_keyboard())
        except TelegramForbiddenError:
            async with self.db.write() as session:
                await support.mark_blocked(session, thread.user_id)
            await message.reply(texts.BLOCKED_NOTE)
            return False
        async with self.db.write() as session:
            await support.answered(session, thread.user_id)
            support.remember_answer(
                session, thread.user_id, copied.message_id, message.chat.id, message.message_id
            )
        return True

    async def note(self, thread: SupportThread, text: str) -> None:
        if self.chat_id is None:
            return
        chat_id = self.chat_id

        async def send(topic: int | None) -> None:
            await self.bot.send_message(chat_id, text, message_thread_id=topic)

        await self._in_thread(thread, thread.title, send)

    async def remind_overdue(self) -> int:
        hours = self.settings.support_sla_hours
        async with self.db.read() as session:
            late = await support.overdue(session, timedelta(hours=hours))
        posted = []
        for thread in late:
            waited = (utcnow() - (thread.waiting_since or utcnow())).total_seconds() / 3600
            try:
                await self.note(thread, texts.sla_reminder(thread.title, waited))
                posted.append(thread.user_id)
            except TelegramAPIError as exc:  # tried again on the next run
                log.warning("SLA reminder not posted: %s", type(exc).__name__)
        if posted:
            async with self.db.write() as session:
                await support.reminded(session, posted)
        return len(posted)


async def refresh_support_header(bot: Bot, db: Database, settings: Settings, user_id: int) -> None:
    """The topic's header follows the applicant's requests (best effort)."""
    if settings.support_chat_id is None:
        return
    try:
        await SupportDesk(bot, db, settings).refresh_header(user_id)
    except TelegramAPIError as exc:
        log.warning("support header not updated: %s", type(exc).__name__)
