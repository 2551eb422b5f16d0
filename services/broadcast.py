"""/broadcast: an admin's message to many (order No 922, items 2.3, 4.1-4.3: training dates,
instructions), sent through the outbox once per person even across restarts.

A broadcast is drafted (audience, then text), previewed with its count, and sent by one
conditional UPDATE (preview → sent): its recipients (one row per person, the key forbids a
second) and their outbox rows are written in that same transaction, so a second press, a second
worker or a restart can neither send it twice nor lose it. Delivery marks each recipient
delivered or blocked; /broadcast status counts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from html import escape
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    AccessRequest,
    Broadcast,
    BroadcastRecipient,
    OutboxMessage,
    StaffMember,
    utcnow,
)
from services import outbox
from services.org_confirmation import has_request
from services.outbox import Kind
from services.requests import Status
from services.staff import StaffRole

MAX_TEXT = 4000  # Telegram takes 4096 characters; the escaping may add a little
# Telegram's caption (MAX takes more): a broadcast whose text is longer goes as the text, then
# the file, in two outbox rows, so a fault on the file never sends the text twice.
CAPTION_LIMIT = 1024
# The outbox payload of a broadcast's row: which part it sends when the text and the file go
# apart (absent: all of it), and the file (order items 4.2-4.3: the instruction, the schedule).
PART, TEXT_PART, FILE_PART = "part", "text", "file"
DRAFT_TTL = timedelta(minutes=30)  # a draft waits this long for its text


class Audience(StrEnum):
    RESPONSIBLE = "responsible"  # every responsible person of an organisation
    DRAFTS = "drafts"  # applicants with an unfinished request dialog
    NO_REQUEST = "no_request"  # responsible persons of organisations without a request
    # Items 4.2-4.3 (training, instructions) by where a person's request stands:
    SUBMITTED = "submitted"  # на рассмотрении
    APPROVED = "approved"  # одобрена (exported too: approved, access not yet given)
    GRANTED = "granted"  # доступ предоставлен
    ORGANIZATION = "organization"  # one organisation's applicants and responsible persons


# The request statuses each status audience reaches; a person is in it when any of their
# requests (not erased) is in one of them.
BY_STATUS: dict[Audience, tuple[str, ...]] = {
    Audience.SUBMITTED: (Status.SUBMITTED.value,),
    Audience.APPROVED: (Status.APPROVED.value, Status.EXPORTED.value),
    Audience.GRANTED: (Status.ACCESS_GRANTED.value,),
}
# An organisation's people: applicants whose request is alive or led to access.
OF_ORGANIZATION = (
    Status.SUBMITTED.value,
    Status.RETURNED.value,
    Status.APPROVED.value,
    Status.EXPORTED.value,
    Status.ACCESS_GRANTED.value,
)


class State(StrEnum):
    TEXT = "text"  # waiting for the admin's text
    PREVIEW = "preview"  # shown, waiting for «Отправить»
    SENT = "sent"
    CANCELLED = "cancelled"


PENDING, DELIVERED, BLOCKED = "pending", "delivered", "blocked"
LOST = "lost"  # counted, never stored: pending, but its outbox row is gone


@dataclass(frozen=True)
class Counts:
    broadcast_id: int
    audience: str
    sent_at: datetime | None
    total: int
    delivered: int
    blocked: int
    pending: int
    lost: int = 0


async def start(
    session: AsyncSession,
    admin_id: int,
    chat_id: int,
    audience: Audience,
    organization_id: int | None = None,
) -> int:
    """A new draft; the admin's earlier unsent drafts in this chat are cancelled."""
    await _cancel_drafts(session, admin_id, chat_id)
    draft = Broadcast(
        created_by=admin_id,
        chat_id=chat_id,
        audience=audience.value,
        organization_id=organization_id,
        state=State.TEXT.value,
        created_at=utcnow(),
    )
    session.add(draft)
    await session.flush()
    return draft.id


async def _cancel_drafts(session: AsyncSession, admin_id: int, chat_id: int) -> None:
    await session.execute(
        update(Broadcast)
        .where(
            Broadcast.created_by == admin_id,
            Broadcast.chat_id == chat_id,
            Broadcast.state.in_((State.TEXT.value, State.PREVIEW.value)),
        )
        .values(state=State.CANCELLED.value)
        .execution_options(synchronize_session=False)
    )


async def waiting_for_text(session: AsyncSession, admin_id: int, chat_id: int) -> Broadcast | None:
    return await session.scalar(
        select(Broadcast)
        .where(
            Broadcast.created_by == admin_id,
            Broadcast.chat_id == chat_id,
            Broadcast.state == State.TEXT.value,
            Broadcast.created_at > utcnow() - DRAFT_TTL,
        )
        .order_by(Broadcast.id.desc())
        .limit(1)
    )


async def set_text(session: AsyncSession, broadcast_id: int, text: str) -> bool:
    result = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.state == State.TEXT.value)
        .values(text=text, state=State.PREVIEW.value)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


async def set_file(
    session: AsyncSession, broadcast_id: int, file: dict[str, Any] | None
) -> Broadcast | None:
    """Attach a file to the previewed draft (None takes it off); the draft, or None when it
    is no longer waiting (sent, cancelled)."""
    result = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.state == State.PREVIEW.value)
        .values(file=file)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    return await session.scalar(
        select(Broadcast)
        .where(Broadcast.id == broadcast_id)
        .execution_options(populate_existing=True)
    )


def caption_fits(text: str) -> bool:
    """Whether the text, escaped as it is sent, fits a caption: counted in UTF-16 units, as
    Telegram counts (an emoji is two), over the HTML, which is never shorter than the text."""
    return len(escape(text).encode("utf-16-le")) // 2 <= CAPTION_LIMIT


def payloads(broadcast_id: int, text: str, file: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The outbox rows of one recipient, in order: one, or the text then the file when the text
    is longer than a caption may be (each a row of its own, retried on its own)."""
    if file is None:
        return [{"broadcast_id": broadcast_id}]
    if not caption_fits(text):
        return [
            {"broadcast_id": broadcast_id, PART: TEXT_PART},
            {"broadcast_id": broadcast_id, PART: FILE_PART, "file": file},
        ]
    return [{"broadcast_id": broadcast_id, "file": file}]


async def responsible_persons(session: AsyncSession, without_request: bool) -> list[int]:
    query = select(StaffMember.account_id).where(StaffMember.role == StaffRole.RESPONSIBLE.value)
    if without_request:
        requested = has_request(StaffMember.organization_id)
        query = query.where(StaffMember.organization_id.is_not(None), ~requested)
    return sorted(set(await session.scalars(query)))


async def applicants(
    session: AsyncSession, statuses: tuple[str, ...], organization_id: int | None = None
) -> list[int]:
    """The accounts with a request (not erased) in one of `statuses`, of one organisation
    when it is given."""
    query = select(AccessRequest.account_id).where(
        AccessRequest.status.in_(statuses), AccessRequest.erased_at.is_(None)
    )
    if organization_id is not None:
        query = query.where(AccessRequest.organization_id == organization_id)
    return sorted(set(await session.scalars(query)))


async def of_organization(session: AsyncSession, organization_id: int) -> list[int]:
    """An organisation's people (items 4.2-4.3): its applicants and its responsible persons."""
    staff = await session.scalars(
        select(StaffMember.account_id).where(
            StaffMember.role == StaffRole.RESPONSIBLE.value,
            StaffMember.organization_id == organization_id,
        )
    )
    people = set(await applicants(session, OF_ORGANIZATION, organization_id)) | set(staff)
    return sorted(people)


async def recipients(
    session: AsyncSession,
    audience: Audience,
    in_dialog: list[int] | None = None,
    organization_id: int | None = None,
) -> list[int]:
    """Who gets it (account keys, each once). `in_dialog`: the chats with an unfinished
    request dialog, read from the FSM storage by the caller."""
    if audience == Audience.DRAFTS:
        return sorted({c for c in in_dialog or () if c > 0})
    if audience in BY_STATUS:
        return await applicants(session, BY_STATUS[audience])
    if audience == Audience.ORGANIZATION:
        return await of_organization(session, organization_id) if organization_id else []
    return await responsible_persons(session, audience == Audience.NO_REQUEST)


async def send(session: AsyncSession, broadcast_id: int, people: list[int]) -> int | None:
    """Send the previewed broadcast to `people`: None when it is not waiting (sent or
    cancelled already), else how many it goes to. Nobody to send to (the audience emptied
    since the preview): the draft is cancelled, not listed as sent, and 0 returned."""
    if not people:
        return 0 if await cancel(session, broadcast_id) else None
    result = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.state == State.PREVIEW.value)
        .values(state=State.SENT.value, sent_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    draft = await session.scalar(
        select(Broadcast)
        .where(Broadcast.id == broadcast_id)
        .execution_options(populate_existing=True)
    )
    text, file = (draft.text or "", draft.file) if draft is not None else ("", None)
    rows = payloads(broadcast_id, text, file)
    unique = sorted(set(people))
    for chat_id in unique:
        session.add(BroadcastRecipient(broadcast_id=broadcast_id, chat_id=chat_id, state=PENDING))
        for payload in rows:
            outbox.enqueue(session, chat_id, Kind.BROADCAST, payload, user_id=chat_id)
    return len(unique)


async def cancel(session: AsyncSession, broadcast_id: int) -> bool:
    result = await session.execute(
        update(Broadcast)
        .where(
            Broadcast.id == broadcast_id,
            Broadcast.state.in_((State.TEXT.value, State.PREVIEW.value)),
        )
        .values(state=State.CANCELLED.value)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


async def mark(session: AsyncSession, broadcast_id: int, chat_id: int, state: str) -> None:
    await session.execute(
        update(BroadcastRecipient)
        .where(
            BroadcastRecipient.broadcast_id == broadcast_id,
            BroadcastRecipient.chat_id == chat_id,
        )
        .values(state=state)
        .execution_options(synchronize_session=False)
    )


async def text_of(session: AsyncSession, broadcast_id: int) -> str | None:
    return await session.scalar(select(Broadcast.text).where(Broadcast.id == broadcast_id))


async def get(session: AsyncSession, broadcast_id: int) -> Broadcast | None:
    return await session.get(Broadcast, broadcast_id)


async def status(session: AsyncSession, shown: int = 10) -> list[Counts]:
    """The latest sent broadcasts with their recipients counted by state (in SQL)."""
    latest = list(
        (
            await session.execute(
                select(Broadcast.id, Broadcast.audience, Broadcast.sent_at)
                .where(Broadcast.state == State.SENT.value)
                .order_by(Broadcast.id.desc())
                .limit(shown)
            )
        ).all()
    )
    if not latest:
        return []
    counts: dict[int, dict[str, int]] = {}
    # A pending recipient whose outbox row is gone without a delivery (it failed for good,
    # or the person withdrew consent and their rows were forgotten) is counted as lost.
    # The row of this very broadcast: another broadcast queued to the same person does not
    # keep this one's recipient «pending».
    queued = exists().where(
        OutboxMessage.chat_id == BroadcastRecipient.chat_id,
        OutboxMessage.kind == Kind.BROADCAST.value,
        OutboxMessage.state == PENDING,
        OutboxMessage.payload["broadcast_id"].as_integer() == BroadcastRecipient.broadcast_id,
    )
    state = case(
        (and_(BroadcastRecipient.state == PENDING, ~queued), literal(LOST)),
        else_=BroadcastRecipient.state,
    )
    rows = await session.execute(
        select(BroadcastRecipient.broadcast_id, state, func.count())
        .where(BroadcastRecipient.broadcast_id.in_([b for b, _, _ in latest]))
        .group_by(BroadcastRecipient.broadcast_id, state)
    )
    for broadcast_id, state, n in rows:
        counts.setdefault(int(broadcast_id), {})[str(state)] = int(n)
    result = []
    for broadcast_id, audience, sent_at in latest:
        by_state = counts.get(broadcast_id, {})
        result.append(
            Counts(
                broadcast_id=broadcast_id,
                audience=audience,
                sent_at=sent_at,
                total=sum(by_state.values()),
                delivered=by_state.get(DELIVERED, 0),
                blocked=by_state.get(BLOCKED, 0),
                pending=by_state.get(PENDING, 0),
                lost=by_state.get(LOST, 0),
            )
        )
    return result
