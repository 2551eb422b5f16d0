"""Where a consultation's messages go in the support chat: the person's forum topic (made,
with its header, when missing; made again once when deleted by hand), or, in a group without
topics (every MAX group; a Telegram group that is not a forum), a chain of replies under the
person's header. The support desk (bot/outbound/support_desk.py) sends through `in_thread`,
and a text through `text_in_thread`: the thread's first text goes inside its header, since on
a deadline day the group's 20 messages a minute are what makes a question wait.
"""

from __future__ import annotations

import hashlib
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import CreateForumTopic, DeleteForumTopic, GetChat, SendMessage, TelegramMethod
from aiogram.types import Message, ReplyParameters
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from db.database import Database
from db.models import AccessRequest, SupportThread
from services import support
from services.outbox import Delivered
from services.snils import mask_snils

if TYPE_CHECKING:
    from bot.outbound.context import Context

T = TypeVar("T")
# Whether a support chat has topics, per bot, re-checked every few minutes (a group can be
# turned into a forum while the bot runs).
_forum: weakref.WeakKeyDictionary[Bot, dict[int, tuple[bool, float]]] = weakref.WeakKeyDictionary()
FORUM_CHECK_SECONDS = 600
# A text goes inside the header when both fit one message of either messenger (MAX's limit,
# 4,000 characters, is the smaller; UTF-16 units are never fewer than characters) with room
# left for the header to grow: it lists up to five requests and is edited as they change.
MESSAGE_LIMIT = 4000
HEADER_ROOM = 1500


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def with_tail(header: str, tail: str | None) -> str:
    """The header's text, with the thread's first text under it when it carries one."""
    return header if tail is None else f"{header}\n\n{tail}"


def header_digest(header: str) -> str:
    return hashlib.sha256(header.encode()).hexdigest()


def thread_gone(exc: TelegramBadRequest) -> bool:
    text = exc.message.lower()
    return "thread not found" in text or "topic_id_invalid" in text or "topic_deleted" in text


async def is_forum(ctx: Context, chat_id: int) -> bool:
    known = _forum.setdefault(ctx.bot, {})
    cached = known.get(chat_id)
    if cached is not None and time.monotonic() - cached[1] < FORUM_CHECK_SECONDS:
        return cached[0]
    found = bool((await ctx.bot(GetChat(chat_id=chat_id))).is_forum)
    known[chat_id] = (found, time.monotonic())
    return found


async def thread_context(db: Database, user_id: int, fallback_name: str) -> tuple[str, str]:
    """(topic title, header text) from the applicant's latest requests."""
    async with db.read() as session:
        rows = list(
            await session.scalars(
                select(AccessRequest)
                .where(AccessRequest.account_id == user_id, AccessRequest.erased_at.is_(None))
                .order_by(AccessRequest.id.desc())
                .limit(5)
            )
        )
    name = rows[0].full_name if rows else texts.thread_name(fallback_name)
    organization = (rows[0].org_short_name or rows[0].org_full_name) if rows else None
    requests = [
        (r.id, r.status, r.org_short_name or r.org_full_name, mask_snils(r.snils)) for r in rows
    ]
    return texts.thread_title(name, organization), texts.thread_header(user_id, name, requests)


async def load_thread(db: Database, user_id: int | None) -> SupportThread | None:
    if user_id is None:
        return None
    async with db.read() as session:
        return await support.thread_of(session, user_id)


async def create_topic(ctx: Context, thread: SupportThread, gone: int | None) -> int | None:
    """A topic for the thread, stored only if the thread still has none (or still has the
    deleted one, `gone`): a conditional UPDATE. Had someone stored another meanwhile, or had
    the person withdrawn, ours is deleted again. Returns the thread's topic."""
    title, _ = await thread_context(ctx.db, thread.user_id, thread.title)
    topic = await ctx.call(CreateForumTopic(chat_id=thread.chat_id, name=title))
    new = topic.message_thread_id
    async with ctx.db.write() as session:
        stored = await session.execute(
            update(SupportThread)
            .where(
                SupportThread.user_id == thread.user_id,
                SupportThread.topic_id.is_not_distinct_from(gone),
            )
            .values(
                topic_id=new,
                title=title,
                header_message_id=None,
                header_hash=None,
                header_tail=None,
            )
            .execution_options(synchronize_session=False)
        )
        won = getattr(stored, "rowcount", 0) == 1
        current = await support.thread_of(session, thread.user_id)
    if not won:
        try:
            await ctx.call(DeleteForumTopic(chat_id=thread.chat_id, message_thread_id=new))
        except TelegramBadRequest:
            pass
        return current.topic_id if current is not None else None
    thread.topic_id, thread.title, thread.header_message_id = new, title, None
    thread.header_hash = thread.header_tail = None
    return new


async def ensure_topic(
    ctx: Context, thread: SupportThread, lead: str | None = None
) -> tuple[int | None, Message | None]:
    """The thread's topic, created (with its header) when missing; None in a group without
    topics, where the header heads the thread's chain of replies instead. `lead` (HTML): the
    text about to be sent; when the header is posted now and the two fit, the header carries
    it (kept as the header's tail, for its edits) and that message is returned as sent."""
    forum = await is_forum(ctx, thread.chat_id)
    if forum and thread.topic_id is None:
        topic = await create_topic(ctx, thread, None)
        if topic is None:
            return None, None
        thread.topic_id = topic
    if not forum:
        thread.topic_id = None
    if thread.header_message_id is not None:
        return thread.topic_id, None
    _, header = await thread_context(ctx.db, thread.user_id, thread.title)
    # A thread moved to another group (its own taken out of the settings) keeps its first
    # question: the new header shows it again unless it carries the text being sent.
    carries_lead = lead is not None
    tail = lead if carries_lead else thread.header_tail
    if tail is not None and utf16(header) + HEADER_ROOM + 2 + utf16(tail) > MESSAGE_LIMIT:
        tail = None
        carries_lead = False
    sent = await ctx.call(
        SendMessage(
            chat_id=thread.chat_id,
            text=with_tail(header, tail),
            message_thread_id=thread.topic_id,
        )
    )
    async with ctx.db.write() as session:
        await session.execute(
            update(SupportThread)
            .where(
                SupportThread.user_id == thread.user_id,
                SupportThread.topic_id.is_not_distinct_from(thread.topic_id),
            )
            .values(
                header_message_id=sent.message_id,
                header_hash=header_digest(header),
                header_tail=tail,
            )
        )
    thread.header_message_id = sent.message_id
    thread.header_hash = header_digest(header)
    thread.header_tail = tail
    return thread.topic_id, (sent if carries_lead else None)


async def in_thread(
    ctx: Context,
    thread: SupportThread,
    make: Callable[[int | None], TelegramMethod[T]],
    *,
    lead: str | None = None,
) -> T:
    """Send into the thread's topic (in a group without topics: as a reply to the thread's
    header); a topic deleted by hand is recreated once. `lead`: the text `make` sends, which
    goes inside the header instead when the header is posted now (`ensure_topic`)."""
    topic, with_header = await ensure_topic(ctx, thread, lead)
    if with_header is not None:
        return cast(T, with_header)
    try:
        return await ctx.call(in_chain(thread, topic, make(topic)))
    except TelegramBadRequest as exc:
        if topic is None or not thread_gone(exc):
            raise
    thread.topic_id = await create_topic(ctx, thread, topic)
    thread.header_message_id = None
    topic, with_header = await ensure_topic(ctx, thread, lead)
    if with_header is not None:
        return cast(T, with_header)
    return await ctx.call(make(topic))


async def text_in_thread(
    ctx: Context, thread: SupportThread, text: str, *, in_header: str | None = None
) -> Message:
    """A text (HTML) into the thread; the thread's first one goes inside its header (as
    `in_header` when given): one message of the group's budget, not two."""
    return await in_thread(
        ctx,
        thread,
        lambda topic: SendMessage(chat_id=thread.chat_id, text=text, message_thread_id=topic),
        lead=in_header or text,
    )


def in_chain(thread: SupportThread, topic: int | None, method: TelegramMethod[T]) -> Any:
    """Without a topic, a message of the thread replies to its header, so the chain shows
    whose it is and an operator's reply to any part of it reaches the person."""
    if topic is not None or thread.header_message_id is None:
        return method
    if getattr(method, "reply_parameters", None) is not None or not hasattr(
        method, "reply_parameters"
    ):
        return method
    reply = ReplyParameters(message_id=thread.header_message_id, allow_sending_without_reply=True)
    return method.model_copy(update={"reply_parameters": reply})


def relayed(user_id: int, user_message_id: int, chat_id: int, sent_id: int) -> Delivered:
    async def record(session: AsyncSession) -> None:
        support.remember_relay(session, user_id, user_message_id, chat_id, sent_id)

    return Delivered(record)
