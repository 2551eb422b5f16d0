"""The outbox: what the bot sends on its own, recorded with the change that causes it.

A caller enqueues rows in its own transaction (the submit, the decision, the withdrawal); the
delivery loop (bot/outbound/delivery.py) claims them, sends them and reports an outcome, which this
module turns into the row's next state. No aiogram here: the loop classifies Telegram's
answers into the outcomes below.

Outcomes and what they do to a row:
- `Delivered`: the row is deleted (together with what the send recorded, in one transaction).
- `Retry` (network, timeout, 5xx): tried again after a capped exponential backoff with jitter,
  until the row is `max_age` old; then it is `failed` and shown to admins in /health.
- `Wait` (429): tried again after exactly `retry_after`, however long; never dropped.
- `Undeliverable` (blocked, deactivated, chat not found): at once, with every other pending row
  of that chat; the caller marks the person as blocked.
- `Failed` (any other refusal: a bug, not a passing fault): at once, logged by type.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import SupportThread, utcnow
from db.outbox import FAILED, UNDELIVERABLE, Envelope, OutboxRepository

__all__ = ["Envelope"]


class Kind(StrEnum):
    CARD_POST = "card_post"  # post request_id's card to chat_id
    CARD_REFRESH = "card_refresh"  # bring every copy of request_id's card in chat_id up to date
    NOTICE = "notice"  # tell the applicant about request_id (payload: notice, event_id)
    TEXT = "text"  # a text without personal data (reminders, notes)
    COPY = "copy"  # copy a message (payload: from_chat_id, message_id)
    SUPPORT_HEADER = "support_header"  # refresh user_id's topic header and title
    SUPPORT_NOTE = "support_note"  # a note in user_id's thread (payload: note, step)
    SUPPORT_COPY = "support_copy"  # copy user_id's message into their thread
    SUPPORT_EDIT = "support_edit"  # user_id edited a relayed message (payload: text)
    SUPPORT_ANSWER = "support_answer"  # copy an operator's message to the applicant
    SLA_REMINDER = "sla_reminder"  # user_id's question waits too long (payload: hours)
    TOPIC_DELETE = "topic_delete"  # delete a forum topic (payload: topic_id)
    DESK_DELETE = "desk_delete"  # delete the bot's messages of a thread (payload: message_ids)
    REMINDER = "reminder"  # a deadline reminder (payload: text, deadline, days, audience)
    ORG_CONFIRM = "org_confirm"  # ask a responsible person to confirm request_id
    ORG_APPLICATION = "org_application"  # an application to become a responsible person
    BROADCAST = "broadcast"  # an admin's /broadcast to one person (payload: broadcast_id)
    REPORT = "report"  # one part of the scheduled report (payload: part, day), rendered when sent
    ORG_ASK_ERASED = "org_ask_erased"  # rewrite an ask of request_id (payload: message_id)
    MENU = "menu"  # set chat_id's command menu by the person's role as it is then
    ORG_ASK_DECIDED = "org_ask_decided"  # МИАЦ decided request_id: rewrite its asks in chat_id
    GUIDE_DOCUMENT = "guide_document"  # a document of «📖 Инструкция» (payload: document_id)


# Rows that carry nothing personal and stay when the person withdraws consent: they show the
# erasure on the admins' cards and delete the consultation topic.
ERASURE_KINDS: tuple[str, ...] = (
    Kind.CARD_POST,
    Kind.CARD_REFRESH,
    Kind.TOPIC_DELETE,
    Kind.DESK_DELETE,
    Kind.ORG_ASK_ERASED,
)


@dataclass(frozen=True)
class Policy:
    backoff_base: float = 2.0  # seconds before the first retry
    backoff_cap: float = 300.0  # the longest pause between two tries
    max_age: timedelta = timedelta(hours=48)  # then a row that keeps failing is `failed`
    lease: timedelta = timedelta(seconds=120)  # how long a worker holds a row it sends

    def backoff(self, attempts: int, rng: Callable[[], float] = random.random) -> float:
        """Capped exponential, with jitter in [½, 1] of it so retries do not come in waves."""
        delay = min(self.backoff_cap, self.backoff_base * 2 ** max(0, attempts - 1))
        return delay * (0.5 + rng() / 2)


# --- outcomes ---------------------------------------------------------------------------------

After = Callable[[AsyncSession], Awaitable[None]]


@dataclass(frozen=True)
class Delivered:
    # What the send produced (a posted card's message id, say), recorded in the same
    # transaction that deletes the row: the window for a duplicate is the send itself.
    record: After | None = None


@dataclass(frozen=True)
class Retry:
    error: str


@dataclass(frozen=True)
class Wait:
    seconds: float
    error: str = "TelegramRetryAfter"


@dataclass(frozen=True)
class Undeliverable:
    error: str
    record: After | None = None  # mark the person blocked


@dataclass(frozen=True)
class Failed:
    error: str


Outcome = Delivered | Retry | Wait | Undeliverable | Failed


@dataclass
class Applied:
    state: str  # delivered | retry | wait | failed | undeliverable
    not_before: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --- the API ----------------------------------------------------------------------------------


def enqueue(
    session: AsyncSession,
    chat_id: int,
    kind: Kind,
    payload: dict[str, Any] | None = None,
    *,
    user_id: int | None = None,
    request_id: int | None = None,
    now: datetime | None = None,
    turn: int = 0,
) -> None:
    """A row in `chat_id`'s lane. The lane goes by (turn, id): rows of turn 0 go first, in the
    order they were added; a later turn waits for the lane's earlier ones (`LATER_TURN`)."""
    OutboxRepository(session).add(
        chat_id,
        kind.value,
        payload or {},
        user_id=user_id,
        request_id=request_id,
        now=now or utcnow(),
        turn=turn,
    )


# The turn of a new card in the admins' lane. A group takes 20 messages a minute: on a
# deadline day the cards of new requests queue there for minutes, and an admin's decision,
# shown by editing the card, waited behind all of them — admins saw nothing change and pressed
# again. Edits of cards already posted (turn 0) go first; a new card loses nothing by waiting,
# it is rendered as the request stands when it is sent.
LATER_TURN = 1


# Rows of a person's consultation in the support group. A group takes 20 messages a minute
# (bot/outbound/pacing.py); in one shared id-ordered lane, one person's burst of 40 questions
# held another's urgent one back two minutes. These rows take turns instead (start-time fair
# queuing, `OutboxRepository.turn_for`): each person's rows keep their order (the header
# before the question), one worker still sends the group's lane one row at a time (the topic
# is created once: bot/outbound/support_desk.py), and a newcomer waits for one row of each
# person ahead, not for all of them.
_TURNS = "outbox_turns"


async def enqueue_for_person(
    session: AsyncSession,
    chat_id: int,
    kind: Kind,
    payload: dict[str, Any] | None = None,
    *,
    user_id: int,
) -> None:
    """A row of `user_id`'s consultation. In a group it takes the person's turn; the rows a
    transaction adds for one person (a question's header, note and copy) share one turn, so
    a question counts once in the rounds."""
    turn = 0
    repo = OutboxRepository(session)
    if chat_id < 0 and user_id:
        turns: dict[tuple[int, int], int] = session.info.setdefault(_TURNS, {})
        turn = turns.get((chat_id, user_id)) or await repo.turn_for(chat_id, user_id)
        turns[(chat_id, user_id)] = turn
    repo.add(
        chat_id,
        kind.value,
        payload or {},
        user_id=user_id,
        request_id=None,
        now=utcnow(),
        turn=turn,
    )


async def anything_ready(session: AsyncSession, now: datetime) -> bool:
    return await OutboxRepository(session).anything_ready(now)


async def claim(
    session: AsyncSession,
    owner: str,
    now: datetime,
    limit: int,
    policy: Policy,
    ids: list[int] | None = None,
) -> list[Envelope]:
    return await OutboxRepository(session).claim(owner, now, now + policy.lease, limit, ids)


async def apply(
    session: AsyncSession,
    row: Envelope,
    outcome: Outcome,
    now: datetime,
    policy: Policy,
    rng: Callable[[], float] = random.random,
) -> Applied:
    """The row's next state after a try, in the caller's transaction."""
    repo = OutboxRepository(session)
    match outcome:
        case Delivered(record=record):
            await repo.delete(row.id)
            if record is not None:
                await record(session)
            return Applied("delivered")
        case Wait(seconds=seconds, error=error):
            until = now + timedelta(seconds=max(0.0, seconds))
            await repo.reschedule(row.id, until, error)
            return Applied("wait", until)
        case Retry(error=error):
            if now - row.created_at >= policy.max_age:
                await repo.finish(row.id, FAILED, error, now)
                return Applied("failed")
            until = now + timedelta(seconds=policy.backoff(row.attempts, rng))
            await repo.reschedule(row.id, until, error)
            return Applied("retry", until)
        case Undeliverable(error=error, record=record):
            await repo.finish(row.id, UNDELIVERABLE, error, now)
            dropped = await repo.finish_lane(row.chat_id, UNDELIVERABLE, error, now)
            if record is not None:
                await record(session)
            return Applied("undeliverable", extra={"lane": dropped})
        case Failed(error=error):
            await repo.finish(row.id, FAILED, error, now)
            return Applied("failed")
    raise AssertionError(f"unknown outcome {outcome!r}")


async def forget_person(session: AsyncSession, user_id: int) -> int:
    """The person withdrew consent: nothing more is sent to them or about them, and no row
    that could carry their words (a relayed edit, a long caption) stays. What shows the
    erasure (card edits, the topic's deletion) is kept."""
    return await OutboxRepository(session).forget_person(user_id, ERASURE_KINDS)


async def card_chats(session: AsyncSession, request_id: int) -> list[int]:
    return await OutboxRepository(session).card_chats(request_id, Kind.CARD_POST.value)


async def next_due(session: AsyncSession) -> datetime | None:
    return await OutboxRepository(session).next_due()


async def card_chats_of(session: AsyncSession, request_ids: list[int]) -> set[tuple[int, int]]:
    return await OutboxRepository(session).card_chats_of(request_ids, Kind.CARD_POST.value)


async def enqueue_support_headers(session: AsyncSession, user_ids: set[int]) -> None:
    """The support-topic header of each of these applicants who has a thread, in one query."""
    ids = [u for u in user_ids if u]
    if not ids:
        return
    threads = await session.execute(
        select(SupportThread.user_id, SupportThread.chat_id).where(SupportThread.user_id.in_(ids))
    )
    for user_id, chat_id in sorted(threads.all()):
        await enqueue_for_person(session, chat_id, Kind.SUPPORT_HEADER, user_id=user_id)


async def follow_requests(
    session: AsyncSession,
    changed: Sequence[tuple[int, int | None]],
    notice: str | None = None,
    chunk: int = 500,
) -> None:
    """What follows a change of many requests at once (an export batch, a grant), in the
    change's own transaction: every copy of their cards, their applicants' support-topic
    headers and, with `notice`, a notice to each applicant. `changed` holds (request id,
    account) pairs; a few queries per `chunk` of them, not a few per request."""
    for start in range(0, len(changed), chunk):
        owners = dict(changed[start : start + chunk])
        for request_id, chat_id in sorted(await card_chats_of(session, list(owners))):
            enqueue(
                session,
                chat_id,
                Kind.CARD_REFRESH,
                request_id=request_id,
                user_id=owners[request_id] or None,
            )
        await enqueue_support_headers(session, {u for u in owners.values() if u})
        for request_id, user_id in owners.items() if notice is not None else ():
            if user_id:
                enqueue(
                    session,
                    user_id,
                    Kind.NOTICE,
                    {"notice": notice, "event_id": None},
                    user_id=user_id,
                    request_id=request_id,
                )


@dataclass(frozen=True)
class Health:
    pending: int
    oldest_age: timedelta | None
    failed: int  # in the last `window`
    undeliverable: int
    recent_failures: list[tuple[int, str, int, str | None, datetime | None]]


async def health(session: AsyncSession, now: datetime, window: timedelta, shown: int) -> Health:
    repo = OutboxRepository(session)
    pending, oldest = await repo.pending_summary()
    since = now - window
    failures = await repo.finished(FAILED, since, shown)
    return Health(
        pending=pending,
        oldest_age=(now - oldest) if oldest is not None else None,
        failed=await repo.count_finished(FAILED, since),
        undeliverable=await repo.count_finished(UNDELIVERABLE, since),
        recent_failures=[(f.id, f.kind, f.chat_id, f.last_error, f.finished_at) for f in failures],
    )


async def requeue_failed(session: AsyncSession, now: datetime | None = None) -> int:
    return await OutboxRepository(session).requeue_failed(now or utcnow())
