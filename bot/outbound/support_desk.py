"""The support chat: one thread per applicant, relaying both ways.

With forum topics, each applicant gets a topic, opened by a header with their request
context. Without topics (a Telegram group that is not a forum, and every MAX group: MAX has
none), each applicant's consultation is a chain of replies: their header is posted once, each
of their messages after it as a reply to the header, and an operator's reply to any message
of the chain goes back to them (bot/handlers/support_chat/operators.py).

Handlers only enqueue (`enqueue_*`, in their own transaction); the outbox loop sends
(`deliver_*`). Everything bound for the support chat is one lane, sent one row at a time by
one worker at a time, so a topic is created once per applicant however many workers there
are and however many first questions arrive at once; the conditional UPDATE that stores a new
topic is the database's own guarantee on top (`create_topic`). Within the lane people take
turns (`outbox.enqueue_for_person`): each person's rows in their order, the header before the
question, but one person's burst does not push another's question back; a person's unsent
plain-text follow-ups go as one message (`_merge_follow_ups`), and so do a question asked from
a step of the form and the note naming the step. A topic deleted by hand is recreated on the
next message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from html import escape
from typing import TYPE_CHECKING, Any, TypeVar

from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import (
    CopyMessage,
    DeleteForumTopic,
    DeleteMessage,
    EditForumTopic,
    EditMessageText,
    SendMessage,
)
from aiogram.types import InlineKeyboardMarkup, ReplyParameters
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards, texts
from bot.config import Settings
from bot.outbound.crossing import CONTENT, cannot_copy, fetch_file, methods_for
from bot.outbound.support_threads import (
    MESSAGE_LIMIT,
    header_digest,
    in_thread,
    load_thread,
    relayed,
    text_in_thread,
    thread_context,
    thread_gone,
    utf16,
    with_tail,
)
from db.models import SupportThread, utcnow
from db.outbox import Envelope, OutboxRepository
from services import outbox, support
from services.outbox import Delivered, Kind, Outcome

if TYPE_CHECKING:
    from bot.outbound.context import Context

log = logging.getLogger(__name__)
T = TypeVar("T")

LONG_CAPTION = 1024  # longer captions cannot be copied: the text goes separately
PLAIN = "text"  # a SUPPORT_COPY payload's key for the text of a text-only message
TEXT_LIMIT = 4096  # Telegram's limit of a message's text, in UTF-16 code units
MERGE_ROWS = 100  # follow-ups looked at for one merge


# --- enqueued by handlers, in their transaction -----------------------------------------------


async def enqueue_question(
    session: AsyncSession,
    settings: Settings,
    user_id: int,
    fallback_name: str,
    message_id: int,
    step: str | None,
    long_caption: str | None = None,
    content: dict[str, Any] | None = None,
    *,
    carry: bool = False,
    plain_text: str | None = None,
) -> bool:
    """An applicant's question: their thread opened (or reopened) and waiting, the question
    on its way to the support chat. False without a support chat. `content`: the message
    itself, for a desk it cannot be copied to (bot/outbound/crossing.py), or with `carry`
    (its text was cleaned) for any desk. `plain_text`: the text of a message that is only
    text (no file, no formatting), kept so that unsent follow-ups can be merged.
    The desk is the one on the person's messenger when there is one; a thread stays in its
    desk while that desk is configured, and moves when it no longer is."""
    thread = await support.thread_of(session, user_id)
    chat_id = settings.support_desk_of(user_id, thread.chat_id if thread else None)
    if chat_id is None:
        return False
    if thread is not None and thread.chat_id != chat_id:
        await support.move_thread(session, user_id, chat_id)
    await support.open_thread(session, user_id, chat_id, texts.thread_title(fallback_name, None))
    if await support.question_arrived(session, user_id):
        await outbox.enqueue_for_person(session, chat_id, Kind.SUPPORT_HEADER, user_id=user_id)
    await outbox.enqueue_for_person(
        session,
        chat_id,
        Kind.SUPPORT_NOTE,
        {"step": step, "user_message_id": message_id},
        user_id=user_id,
    )
    copy: dict[str, Any] = {"user_message_id": message_id}
    if long_caption is not None and len(long_caption) > LONG_CAPTION:
        copy["long_caption"] = long_caption  # the person's words: dropped if they withdraw
    if content is not None and (carry or cannot_copy(user_id, chat_id)):
        copy[CONTENT] = content  # the same
    elif plain_text:
        copy[PLAIN] = plain_text  # the same; lets unsent follow-ups be merged (`deliver_copy`)
    await outbox.enqueue_for_person(session, chat_id, Kind.SUPPORT_COPY, copy, user_id=user_id)
    return True


async def enqueue_to_admins(
    session: AsyncSession,
    settings: Settings,
    user_id: int,
    first_name: str | None,
    message_id: int,
    step: str | None,
    content: dict[str, Any] | None = None,
    *,
    carry: bool = False,
) -> bool:
    """Without a support chat, a question goes to the admins privately (as its `content`
    where it cannot be copied, or with `carry`: its text was cleaned)."""
    header = texts.support_ticket(user_id, first_name, texts.STEP_NAMES.get(step or ""))
    for admin_id in settings.admin_ids:
        outbox.enqueue(session, admin_id, Kind.TEXT, {"text": header}, user_id=user_id)
        copy: dict[str, Any] = {"from_chat_id": user_id, "message_id": message_id}
        if content is not None and (carry or cannot_copy(user_id, admin_id)):
            copy[CONTENT] = content
        outbox.enqueue(session, admin_id, Kind.COPY, copy, user_id=user_id)
    return bool(settings.admin_ids)


async def enqueue_edit(
    session: AsyncSession, settings: Settings, user_id: int, message_id: int, text: str
) -> None:
    """An applicant edited a message they had asked with: a note follows it."""
    thread = await support.thread_of(session, user_id)
    if thread is None or thread.chat_id not in settings.support_chats:
        return
    await outbox.enqueue_for_person(
        session,
        thread.chat_id,
        Kind.SUPPORT_EDIT,
        {"user_message_id": message_id, "text": text},
        user_id=user_id,
    )


async def enqueue_header(session: AsyncSession, user_id: int) -> None:
    """The topic's header follows the applicant's requests (when they have a thread)."""
    thread = await support.thread_of(session, user_id) if user_id else None
    if thread is not None:
        await outbox.enqueue_for_person(
            session, thread.chat_id, Kind.SUPPORT_HEADER, user_id=user_id
        )


def enqueue_answer(
    session: AsyncSession,
    thread: SupportThread,
    from_chat_id: int,
    message_id: int,
    content: dict[str, Any] | None = None,
) -> None:
    """An operator's message, copied to the applicant under «Ответ специалиста МИАЦ» (a row
    of its own before it in the applicant's lane: a retried copy never repeats the label).
    An applicant on the other messenger gets the message's `content` instead of a copy."""
    answer: dict[str, Any] = {
        "from_chat_id": from_chat_id,
        "message_id": message_id,
        "tell_operators": True,
    }
    if content is not None and cannot_copy(from_chat_id, thread.user_id):
        answer[CONTENT] = content
    enqueue_text_to_applicant(
        session, thread.user_id, texts.OPERATOR_ANSWER_LABEL, answer_of=(from_chat_id, message_id)
    )
    outbox.enqueue(session, thread.user_id, Kind.SUPPORT_ANSWER, answer, user_id=thread.user_id)


def enqueue_text_to_applicant(
    session: AsyncSession,
    user_id: int,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    answer_of: tuple[int, int] | None = None,
) -> None:
    """A fixed text to the applicant on an operator's behalf (no personal data in it).
    `answer_of` (support chat, message): the text is part of a specialist's answer, and a
    reply to it goes to the consultation like a reply to the answer itself."""
    payload: dict[str, Any] = {"text": text, "tell_operators": True}
    if answer_of is not None:
        payload[support.ANSWER_OF] = list(answer_of)
    if markup is not None:
        payload["markup"] = markup.model_dump(mode="json", exclude_none=True)
    outbox.enqueue(session, user_id, Kind.TEXT, payload, user_id=user_id)


async def enqueue_overdue(session: AsyncSession, settings: Settings) -> int:
    """Questions waiting longer than the SLA: one reminder each in the support chat. The
    thread is marked reminded in the same transaction, with a conditional UPDATE, so two
    workers never remind twice."""
    if not settings.support_chats:
        return 0
    now = utcnow()
    late = await support.overdue(session, timedelta(hours=settings.support_sla_hours))
    count = 0
    for thread in late:
        desk = settings.support_desk_of(thread.user_id, thread.chat_id)
        if desk is None or not await support.claim_reminder(session, thread.user_id, now):
            continue
        if desk != thread.chat_id:
            # Its group was taken out of the settings, and nobody can answer there: the
            # consultation moves to a group that can, its first question in the new header.
            await support.move_thread(session, thread.user_id, desk)
        waited = (now - (thread.waiting_since or now)).total_seconds() / 3600
        await outbox.enqueue_for_person(
            session,
            desk,
            Kind.SLA_REMINDER,
            {"hours": round(waited, 2)},
            user_id=thread.user_id,
        )
        count += 1
    return count


def enqueue_topic_delete(
    session: AsyncSession, thread: SupportThread, desk_messages: list[int] | None = None
) -> None:
    """The consultation of a person who withdrew consent goes: its topic, or in a group
    without topics the bot's messages of it (no personal data in the row: numbers)."""
    if thread.topic_id is not None:
        outbox.enqueue(session, thread.chat_id, Kind.TOPIC_DELETE, {"topic_id": thread.topic_id})
    elif desk_messages:
        outbox.enqueue(session, thread.chat_id, Kind.DESK_DELETE, {"message_ids": desk_messages})


# --- delivered by the outbox loop -------------------------------------------------------------


async def deliver_note(ctx: Context, row: Envelope) -> Outcome | None:
    """A note in the applicant's thread: a fixed text, or the step a question comes from."""
    thread = await load_thread(ctx.db, row.user_id)
    if thread is None:
        return None  # the person withdrew consent meanwhile
    if "text" in row.payload:
        text = str(row.payload["text"])
        sent = await in_thread(
            ctx,
            thread,
            lambda topic: SendMessage(chat_id=thread.chat_id, text=text, message_thread_id=topic),
        )
    else:
        step = row.payload.get("step")
        if not step:
            return None  # a plain question needs no note: the copy follows, under the header
        note = texts.question_note(texts.STEP_NAMES.get(step))
        # The note and the plain-text question it names go as one message: on a deadline
        # day the group's 20 messages a minute are what makes questions wait.
        together = await _merge_follow_ups(ctx, row, thread, note=note)
        if together is not None:
            return together
        sent = await text_in_thread(ctx, thread, note)  # before a file: in a new header too
    user_message_id = row.payload.get("user_message_id")
    if user_message_id is None:
        return None
    return relayed(thread.user_id, int(user_message_id), thread.chat_id, sent.message_id)


async def deliver_copy(ctx: Context, row: Envelope) -> Outcome | None:
    """The applicant's message, copied into their thread (a caption too long to copy goes
    as a text, then the file without it)."""
    thread = await load_thread(ctx.db, row.user_id)
    if thread is None:
        return None
    user_message_id = int(row.payload["user_message_id"])
    long_caption = row.payload.get("long_caption")
    if CONTENT in row.payload:
        return await _carry_across(ctx, row, thread, user_message_id)
    if PLAIN in row.payload and not long_caption:
        merged = await _merge_follow_ups(ctx, row, thread)
        if merged is not None:
            return merged

    def copy(caption: str | None) -> Callable[[int | None], CopyMessage]:
        return lambda topic: CopyMessage(
            chat_id=thread.chat_id,
            from_chat_id=thread.user_id,
            message_id=user_message_id,
            message_thread_id=topic,
            caption=caption,
        )

    try:
        copied = await in_thread(ctx, thread, copy(None))
    except TelegramBadRequest as exc:
        if "caption is too long" not in exc.message or not long_caption:
            raise
        await in_thread(
            ctx,
            thread,
            lambda topic: SendMessage(
                chat_id=thread.chat_id,
                text=long_caption,
                message_thread_id=topic,
                parse_mode=None,
            ),
        )
        copied = await in_thread(ctx, thread, copy(""))
    return relayed(thread.user_id, user_message_id, thread.chat_id, copied.message_id)


async def _merge_follow_ups(
    ctx: Context, row: Envelope, thread: SupportThread, *, note: str | None = None
) -> Outcome | None:
    """The person's unsent follow-ups, sent with this question as one message, when they are
    plain texts: a burst of 40 short messages costs the group's budget (20 a minute) one
    message, not 40. How: the person's rows after this one in the lane (their own order,
    `OutboxRepository.following`) are taken while each is a text-only question (its text
    kept in the row, `PLAIN`) or the empty note before one; the first file, formatted text,
    note with words or other row stops the merge, and so does the text limit. The texts go
    in order, a blank line apart; the rows taken are deleted with this one, and each merged
    question is remembered as relayed to the one message (an operator's reply to it reaches
    the person). Never across people: only rows of this row's person are looked at. None
    when there is nothing to merge (the message is copied as it is, formatting and all).

    With `note` (its HTML), `row` is the note naming a question's step: the question right
    after it, when it is plain text, and its follow-ups go under the note in one message;
    None when the next row is not such a question (the note goes alone)."""
    async with ctx.db.read() as session:
        after = await OutboxRepository(session).following(row, MERGE_ROWS)
    taken: list[Envelope] = []
    if note is None:
        first = row
        size = 0
    else:
        if not after or not _plain_question(after[0]):
            return None
        first, after = after[0], after[1:]
        if first.payload.get("user_message_id") != row.payload.get("user_message_id"):
            return None
        taken.append(first)
        size = utf16(note) + 2
    texts_in_order = [str(first.payload[PLAIN])]
    size += utf16(texts_in_order[0])
    if size > TEXT_LIMIT:
        return None  # a question as long as a message: under its note it would not fit
    empty_notes: list[Envelope] = []
    for follow in after:
        payload = follow.payload
        if follow.kind == Kind.SUPPORT_NOTE and not payload.get("step") and "text" not in payload:
            empty_notes.append(follow)  # a question's note that sends nothing
            continue
        if not _plain_question(follow):
            break
        text = str(payload[PLAIN])
        if size + 2 + utf16(text) > TEXT_LIMIT:
            break
        size += 2 + utf16(text)
        texts_in_order.append(text)
        taken += [*empty_notes, follow]
        empty_notes = []
    if note is None and len(texts_in_order) == 1 and thread.header_message_id is not None:
        return None  # one question after the header: copied as it is
    body = escape("\n\n".join(texts_in_order))
    if note is None:  # inside the header, under its words to the operators, it is named
        named = f"{texts.question_note(None)}\n\n{body}"
        sent = await text_in_thread(ctx, thread, body, in_header=named)
    else:
        sent = await text_in_thread(ctx, thread, f"{note}\n\n{body}")
    questions = {
        int(r.payload["user_message_id"]) for r in (row, *taken) if r.kind == Kind.SUPPORT_COPY
    }

    async def record(session: AsyncSession) -> None:
        await OutboxRepository(session).delete_pending([r.id for r in taken])
        for question in sorted(questions):
            support.remember_relay(
                session, thread.user_id, question, thread.chat_id, sent.message_id
            )

    return Delivered(record)


def _plain_question(row: Envelope) -> bool:
    """A question kept as its plain text, which can go inside another message."""
    payload = row.payload
    return (
        row.kind == Kind.SUPPORT_COPY
        and PLAIN in payload
        and CONTENT not in payload
        and not payload.get("long_caption")
    )


async def _carry_across(
    ctx: Context, row: Envelope, thread: SupportThread, user_message_id: int
) -> Outcome:
    """A question from the other messenger: its content, sent into the thread."""
    content = row.payload[CONTENT]
    source = ctx.bots.for_chat(thread.user_id) if ctx.bots is not None else None
    data = await fetch_file(source or ctx.bot, content)
    sent = None
    for method in methods_for(content, data, thread.chat_id):

        def make(topic: int | None, method: Any = method) -> Any:
            return method.model_copy(update={"message_thread_id": topic})

        sent = await in_thread(ctx, thread, make)
    if sent is None:
        return Delivered()
    return relayed(thread.user_id, user_message_id, thread.chat_id, sent.message_id)


async def deliver_edit(ctx: Context, row: Envelope) -> Outcome | None:
    thread = await load_thread(ctx.db, row.user_id)
    if thread is None:
        return None
    async with ctx.db.read() as session:
        relayed = await support.relay_by_user_message(
            session, thread.user_id, int(row.payload["user_message_id"])
        )
    if relayed is None:
        return None  # the edited message was not a question
    reply = ReplyParameters(message_id=relayed.support_message_id, allow_sending_without_reply=True)
    await in_thread(
        ctx,
        thread,
        lambda topic: SendMessage(
            chat_id=thread.chat_id,
            text=texts.edited_note(str(row.payload.get("text") or "")),
            message_thread_id=topic,
            reply_parameters=reply,
        ),
    )
    return None


async def deliver_header(ctx: Context, row: Envelope) -> Outcome | None:
    thread = await load_thread(ctx.db, row.user_id)
    if thread is None or thread.header_message_id is None:
        return None  # no topic yet: its header will be made with it
    title, header = await thread_context(ctx.db, thread.user_id, thread.title)
    digest = header_digest(header)
    tail = thread.header_tail
    if tail is not None and utf16(with_tail(header, tail)) > MESSAGE_LIMIT:
        alone = tail
        # The header outgrew the room kept for it: the first text leaves it, as a message of
        # its own in the thread (an operator's reply to the header still reaches the person).
        await in_thread(
            ctx,
            thread,
            lambda topic: SendMessage(chat_id=thread.chat_id, text=alone, message_thread_id=topic),
        )
        await _store_header(ctx, thread, header_tail=None, header_hash=None)
        thread.header_tail = tail = None
        thread.header_hash = None
    if digest != thread.header_hash:  # Telegram refuses an edit that changes nothing
        try:
            await ctx.call(
                EditMessageText(
                    chat_id=thread.chat_id,
                    message_id=thread.header_message_id,
                    text=with_tail(header, tail),
                )
            )
        except TelegramBadRequest as exc:
            text = exc.message.lower()
            if "not modified" not in text and "not found" not in text and not thread_gone(exc):
                raise
        await _store_header(ctx, thread, header_hash=digest)
    if title != thread.title and thread.topic_id is not None:
        try:
            await ctx.call(
                EditForumTopic(
                    chat_id=thread.chat_id, message_thread_id=thread.topic_id, name=title
                )
            )
        except TelegramBadRequest as exc:
            # TOPIC_NOT_MODIFIED: the topic has this name already (a rename whose answer was
            # lost took effect), so it is recorded as any rename; otherwise the topic is gone
            # (recreated on the next message) and its name is left as it was.
            if "not_modified" not in exc.message.lower():
                return None
        async with ctx.db.write() as session:
            await session.execute(
                update(SupportThread)
                .where(SupportThread.user_id == thread.user_id)
                .values(title=title)
            )
    return None


async def _store_header(ctx: Context, thread: SupportThread, **values: str | None) -> None:
    """What the header's message shows now, stored unless another header replaced it."""
    async with ctx.db.write() as session:
        await session.execute(
            update(SupportThread)
            .where(
                SupportThread.user_id == thread.user_id,
                SupportThread.header_message_id == thread.header_message_id,
            )
            .values(**values)
        )


async def deliver_answer(ctx: Context, row: Envelope) -> Outcome | None:
    """The operator's message in the applicant's chat, with a button to reply. The copy is
    remembered with the row's deletion: the applicant's reply to it goes back to the thread."""
    from_chat_id, message_id = int(row.payload["from_chat_id"]), int(row.payload["message_id"])
    if CONTENT in row.payload:
        content = row.payload[CONTENT]
        source = ctx.bots.for_chat(from_chat_id) if ctx.bots is not None else None
        data = await fetch_file(source or ctx.bot, content)
        sent_id = None
        for method in methods_for(
            content, data, row.chat_id, reply_markup=keyboards.answer_keyboard()
        ):
            sent_id = (await ctx.call(method)).message_id
        if sent_id is None:
            return Delivered()
    else:
        copied = await ctx.call(
            CopyMessage(
                chat_id=row.chat_id,
                from_chat_id=from_chat_id,
                message_id=message_id,
                reply_markup=keyboards.answer_keyboard(),
            )
        )
        sent_id = copied.message_id

    async def record(session: AsyncSession) -> None:
        support.remember_answer(session, row.chat_id, sent_id, from_chat_id, message_id)

    return Delivered(record)


def answer_blocked(row: Envelope) -> Callable[[AsyncSession], Any] | None:
    """An applicant who blocked the bot: the operators are told in the thread."""
    if not row.payload.get("tell_operators"):
        return None

    async def record(session: AsyncSession) -> None:
        thread = await support.thread_of(session, row.chat_id)
        if thread is not None:
            await outbox.enqueue_for_person(
                session,
                thread.chat_id,
                Kind.SUPPORT_NOTE,
                {"text": texts.BLOCKED_NOTE},
                user_id=thread.user_id,
            )

    return record


async def deliver_sla_reminder(ctx: Context, row: Envelope) -> Outcome | None:
    thread = await load_thread(ctx.db, row.user_id)
    if thread is None or thread.waiting_since is None:
        return None  # answered (or withdrawn) meanwhile
    text = texts.sla_reminder(texts.thread_name(thread.title), float(row.payload.get("hours") or 0))
    await in_thread(
        ctx,
        thread,
        lambda topic: SendMessage(chat_id=thread.chat_id, text=text, message_thread_id=topic),
    )
    return None


async def deliver_topic_delete(ctx: Context, row: Envelope) -> Outcome | None:
    try:
        await ctx.call(
            DeleteForumTopic(chat_id=row.chat_id, message_thread_id=int(row.payload["topic_id"]))
        )
    except TelegramBadRequest as exc:
        if not thread_gone(exc) and "not found" not in exc.message.lower():
            raise
    return None


async def deliver_desk_delete(ctx: Context, row: Envelope) -> Outcome | None:
    """Each of the bot's messages of the thread; one already gone, or too old for Telegram
    to delete (48 hours), is left as it is."""
    for message_id in row.payload.get("message_ids") or []:
        try:
            await ctx.call(DeleteMessage(chat_id=row.chat_id, message_id=int(message_id)))
        except TelegramBadRequest as exc:
            text = exc.message.lower()
            if "not found" not in text and "can't be deleted" not in text:
                raise
    return None
