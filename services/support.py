"""Consultations (order item 4.4): the FAQ, support threads, working hours, waiting times.
No aiogram here: the messenger side is in bot/outbound/support_desk.py."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    AccessRequest,
    MaxMessage,
    RelayedMessage,
    SupportRating,
    SupportThread,
    utcnow,
)

# --- FAQ --------------------------------------------------------------------------------------


class FaqError(Exception):
    pass


class _Entry(BaseModel):
    question: str = Field(min_length=1, max_length=200)
    answer: str = Field(min_length=1, max_length=3000)


class _FaqFile(BaseModel):
    faq: list[_Entry] = Field(default_factory=list)


@dataclass(frozen=True)
class FaqEntry:
    question: str
    answer: str

    @property
    def key(self) -> str:
        """Names the question in a button: an index alone would point at another question
        once the file is edited while the button is still on screen."""
        return hashlib.sha256(self.question.encode()).hexdigest()[:8]


def find_faq(entries: list[FaqEntry], index: int, key: str) -> FaqEntry | None:
    """The entry a button was made for: at its index, or moved elsewhere; None if gone."""
    if 0 <= index < len(entries) and entries[index].key == key:
        return entries[index]
    return next((entry for entry in entries if entry.key == key), None)


class Faq:
    """The FAQ file, re-read when it changes, so admins replace it without a restart."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._mtime: float | None = None
        self._entries: list[FaqEntry] = []

    def entries(self) -> list[FaqEntry]:
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return []
        if mtime != self._mtime:
            self._entries = parse_faq(self.path.read_text(encoding="utf-8"), str(self.path))
            self._mtime = mtime
        return self._entries


def parse_faq(text: str, source: str = "FAQ") -> list[FaqEntry]:
    try:
        spec = _FaqFile.model_validate(yaml.safe_load(text) or {})
    except (yaml.YAMLError, ValidationError) as exc:
        raise FaqError(f"{source}: {exc}") from exc
    return [FaqEntry(" ".join(e.question.split()), e.answer.strip()) for e in spec.faq]


# --- working hours ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkingHours:
    start: time
    end: time
    weekdays: frozenset[int]  # 1 = Monday … 7 = Sunday

    @classmethod
    def parse(cls, hours: str, days: str) -> WorkingHours:
        """`09:00-18:00` and `1-5` (or `1,2,3`)."""
        first, _, last = hours.partition("-")
        start, end = time.fromisoformat(first.strip()), time.fromisoformat(last.strip())
        weekdays: set[int] = set()
        for part in days.split(","):
            low, _, high = part.strip().partition("-")
            weekdays.update(range(int(low), int(high or low) + 1))
        return cls(start, end, frozenset(weekdays))

    def open_at(self, moment: datetime) -> bool:
        return moment.isoweekday() in self.weekdays and self.start <= moment.time() < self.end

    def next_opening(self, moment: datetime) -> datetime:
        day = moment
        for _ in range(8):
            opening = day.replace(
                hour=self.start.hour, minute=self.start.minute, second=0, microsecond=0
            )
            if day.isoweekday() in self.weekdays and opening > moment:
                return opening
            day = (day + timedelta(days=1)).replace(hour=0, minute=0)
        return moment


# --- threads ----------------------------------------------------------------------------------


async def thread_of(session: AsyncSession, user_id: int) -> SupportThread | None:
    return await session.get(SupportThread, user_id)


async def thread_in_topic(
    session: AsyncSession, chat_id: int, topic_id: int
) -> SupportThread | None:
    return await session.scalar(
        select(SupportThread).where(
            SupportThread.chat_id == chat_id, SupportThread.topic_id == topic_id
        )
    )


async def open_thread(session: AsyncSession, user_id: int, chat_id: int, title: str) -> None:
    """The applicant's thread row, made on their first question (the primary key decides
    between two first questions at once; the topic is made when the question is sent)."""
    if await session.get(SupportThread, user_id) is not None:
        return
    try:
        async with session.begin_nested():
            session.add(
                SupportThread(
                    user_id=user_id, chat_id=chat_id, title=title, status="open", opened_at=utcnow()
                )
            )
            await session.flush()
    except IntegrityError:
        pass  # made meanwhile by the other question


async def relayed_count(session: AsyncSession, user_id: int) -> int:
    count = await session.scalar(
        select(func.count()).select_from(RelayedMessage).where(RelayedMessage.user_id == user_id)
    )
    return int(count or 0)


async def thread_by_header(
    session: AsyncSession, chat_id: int, message_id: int
) -> SupportThread | None:
    """The thread whose header this message is (a group without topics: a reply to the
    header answers that person)."""
    found = await session.scalars(
        select(SupportThread).where(
            SupportThread.chat_id == chat_id, SupportThread.header_message_id == message_id
        )
    )
    return found.first()


async def move_thread(session: AsyncSession, user_id: int, chat_id: int) -> None:
    """The thread's desk is no longer configured: the thread continues in `chat_id`, with a
    new header (and topic) there."""
    await session.execute(
        update(SupportThread)
        .where(SupportThread.user_id == user_id)
        .values(chat_id=chat_id, topic_id=None, header_message_id=None, header_hash=None)
        .execution_options(synchronize_session="fetch")
    )


async def question_arrived(session: AsyncSession, user_id: int) -> bool:
    """A question from the applicant: the thread is open and waiting. True if it was closed."""
    thread = await session.get(SupportThread, user_id)
    if thread is None:
        return False
    reopened = thread.status != "open"
    thread.status, thread.awaiting_rating = "open", False
    thread.blocked = False
    if thread.waiting_since is None:
        thread.waiting_since, thread.sla_reminded_at = utcnow(), None
    return reopened


async def answered(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(SupportThread)
        .where(SupportThread.user_id == user_id)
        .values(waiting_since=None, sla_reminded_at=None)
    )


async def set_status(session: AsyncSession, user_id: int, status: str) -> bool:
    """Close (the applicant is then asked for one rating) or reopen a thread."""
    result = await session.execute(
        update(SupportThread)
        .where(SupportThread.user_id == user_id, SupportThread.status != status)
        .values(status=status, waiting_since=None, awaiting_rating=status == "closed")
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def mark_blocked(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(SupportThread).where(SupportThread.user_id == user_id).values(blocked=True)
    )


async def open_threads(session: AsyncSession) -> list[SupportThread]:
    """Open threads, the longest waiting first."""
    rows = await session.scalars(
        select(SupportThread)
        .where(SupportThread.status == "open")
        .order_by(SupportThread.waiting_since.is_(None), SupportThread.waiting_since)
    )
    return list(rows)


async def overdue(session: AsyncSession, older_than: timedelta) -> list[SupportThread]:
    """Questions waiting longer than the SLA that have not been reminded about yet."""
    rows = await session.scalars(
        select(SupportThread).where(
            SupportThread.status == "open",
            SupportThread.waiting_since < utcnow() - older_than,
            SupportThread.sla_reminded_at.is_(None),
        )
    )
    return list(rows)


async def claim_reminder(session: AsyncSession, user_id: int, now: datetime) -> bool:
    """Mark one overdue question reminded; false when it already was (or was answered)."""
    result = await session.execute(
        update(SupportThread)
        .where(
            SupportThread.user_id == user_id,
            SupportThread.sla_reminded_at.is_(None),
            SupportThread.waiting_since.is_not(None),
        )
        .values(sla_reminded_at=now)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


async def reminded(session: AsyncSession, user_ids: list[int]) -> None:
    await session.execute(
        update(SupportThread)
        .where(SupportThread.user_id.in_(user_ids))
        .values(sla_reminded_at=utcnow())
    )


def remember_relay(
    session: AsyncSession, user_id: int, user_message_id: int, chat_id: int, message_id: int
) -> None:
    session.add(
        RelayedMessage(
            user_id=user_id,
            user_message_id=user_message_id,
            support_chat_id=chat_id,
            support_message_id=message_id,
            at=utcnow(),
        )
    )


async def relay_by_support_message(
    session: AsyncSession, chat_id: int, message_id: int
) -> RelayedMessage | None:
    return await session.scalar(
        select(RelayedMessage).where(
            RelayedMessage.support_chat_id == chat_id,
            RelayedMessage.support_message_id == message_id,
        )
    )


async def relay_by_user_message(
    session: AsyncSession, user_id: int, message_id: int
) -> RelayedMessage | None:
    return await session.scalar(
        select(RelayedMessage)
        .where(RelayedMessage.user_id == user_id, RelayedMessage.user_message_id == message_id)
        .order_by(RelayedMessage.id.desc())
        .limit(1)
    )


# The key of an outbox text that is part of a specialist's answer (the label before the copy,
# an answer from the FAQ): [support chat, message answered with]. Once sent, the text is
# remembered like the copy, so a reply to any message of the answer goes to the specialist.
ANSWER_OF = "answer_of"


def remember_answer(
    session: AsyncSession, user_id: int, copy_id: int, chat_id: int, message_id: int
) -> None:
    """A specialist's answer (or a part of it, `ANSWER_OF`) in the applicant's chat, as
    message `copy_id`: a reply to it goes back to the consultation."""
    remember_relay(session, user_id, copy_id, chat_id, message_id)


async def is_answer(session: AsyncSession, user_id: int, message_id: int) -> bool:
    """Whether the applicant's chat message `message_id` is a copy of a specialist's answer."""
    return await relay_by_user_message(session, user_id, message_id) is not None


async def rate(session: AsyncSession, user_id: int, rating: int) -> bool:
    """A rating counts only for the person's own thread, closed and asked for a rating that
    has not come yet, and only once: a forged or repeated press stores nothing."""
    result = await session.execute(
        update(SupportThread)
        .where(
            SupportThread.user_id == user_id,
            SupportThread.status == "closed",
            SupportThread.awaiting_rating.is_(True),
        )
        .values(awaiting_rating=False)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return False
    session.add(SupportRating(user_id=user_id, rating=rating, at=utcnow()))
    return True


@dataclass(frozen=True)
class Forgotten:
    """What a withdrawal destroyed of the person's consultations."""

    thread: SupportThread | None  # so the caller can delete its topic in the support chat
    relayed: int
    ratings: int
    # The bot's messages of the consultation in a group without topics (its header, the
    # questions carried there), for the caller to delete: there is no topic to delete.
    desk_messages: list[int] = field(default_factory=list)


async def forget(session: AsyncSession, user_id: int) -> Forgotten:
    """Drop the person's thread, relay records and ratings (consent withdrawn)."""
    thread = await session.get(SupportThread, user_id)
    desk_messages: list[int] = []
    if thread is not None and thread.topic_id is None:
        found = await session.scalars(
            select(RelayedMessage.support_message_id).where(
                RelayedMessage.user_id == user_id,
                RelayedMessage.support_chat_id == thread.chat_id,
            )
        )
        # The header first; it may also be a relay (a first question goes inside it).
        header = thread.header_message_id
        desk_messages = [*([header] if header is not None else []), *sorted(set(found) - {header})]
    relayed = await session.execute(delete(RelayedMessage).where(RelayedMessage.user_id == user_id))
    ratings = await session.execute(delete(SupportRating).where(SupportRating.user_id == user_id))
    # On MAX, which message numbers of the person's dialog are which MAX messages.
    await session.execute(delete(MaxMessage).where(MaxMessage.chat_id == user_id))
    if thread is not None:
        await session.delete(thread)
    return Forgotten(
        thread,
        int(getattr(relayed, "rowcount", 0) or 0),
        int(getattr(ratings, "rowcount", 0) or 0),
        desk_messages,
    )


# The stored title of a thread whose person the bot no longer knows by name (the retention
# rule erased their last request): the messenger side shows a neutral one in its place.
NO_TITLE = ""


async def forget_names(session: AsyncSession, user_ids: list[int]) -> list[int]:
    """The threads of these people lose the name in their title («ФИО · организация») once
    none of their requests keeps it. The consultation itself goes on (an open question is
    still answered); the topic name and header follow through their outbox refresh. Returns
    the users whose thread lost it."""
    ids = [u for u in user_ids if u]
    if not ids:
        return []
    named = (
        select(AccessRequest.id)
        .where(AccessRequest.account_id == SupportThread.user_id, AccessRequest.erased_at.is_(None))
        .exists()
    )
    result = await session.execute(
        update(SupportThread)
        .where(SupportThread.user_id.in_(ids), SupportThread.title != NO_TITLE, ~named)
        .values(title=NO_TITLE)
        .returning(SupportThread.user_id)
        .execution_options(synchronize_session=False)
    )
    return sorted(int(u) for u in result.scalars())
