"""Withdrawal of consent to personal-data processing (152-FZ, art. 9 and 21): processing
stops and the person's data is destroyed, and the event log proves both."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from db import search_index
from db.database import Database
from db.models import (
    AccessRequest,
    Consent,
    EmailClaim,
    Erasure,
    OrgAsk,
    RequestEvent,
    utcnow,
)
from db.repositories import EventRepository
from services import org_forms, outbox
from services.requests import HOLDING_STATUSES, TRANSITIONS, Status, transition

# What identifies the person in a request. Organisation, position and role stay for the
# statistics; the request row loses the account too. The consent rows and the events'
# actor ids keep it: they are the proof of who withdrew and when.
PERSONAL_COLUMNS = ("snils", "full_name", "email")


@dataclass(frozen=True)
class Withdrawal:
    cancelled: list[int]  # requests whose processing stopped
    erased: list[int]  # requests whose personal data was destroyed
    consents: int = 0  # consent rows withdrawn now


async def consent_given_at(session: AsyncSession, account_id: int) -> datetime | None:
    """When the person last gave consent (with a request)."""
    return await session.scalar(
        select(func.max(Consent.at)).where(
            Consent.account_id == account_id, Consent.accepted.is_(True)
        )
    )


async def withdraw(
    session: AsyncSession, account_id: int, at: datetime | None = None
) -> Withdrawal:
    """Everything the bot keeps about `account_id`'s requests, in the caller's transaction.
    The dialog draft lives in the FSM storage and the support thread in its own table: the
    caller clears them. The consent rows (withdrawn_at) and the events (actor, action, time)
    stay as the proof."""
    now = at or utcnow()
    withdrawn = await session.execute(
        update(Consent)
        .where(Consent.account_id == account_id, Consent.withdrawn_at.is_(None))
        .values(withdrawn_at=now)
        .execution_options(synchronize_session=False)
    )
    # Locked, so that an admin's decision at this moment waits for us and then finds the
    # request cancelled (PostgreSQL; SQLite's single writer already orders the two).
    ids = list(
        await session.scalars(
            select(AccessRequest.id)
            .where(AccessRequest.account_id == account_id, AccessRequest.erased_at.is_(None))
            .order_by(AccessRequest.id)
            .with_for_update()
        )
    )
    result = await withdraw_requests(session, account_id, ids, now)
    return replace(result, consents=int(getattr(withdrawn, "rowcount", 0) or 0))


async def withdraw_requests(
    session: AsyncSession, account_id: int, request_ids: Sequence[int], at: datetime
) -> Withdrawal:
    """Processing of these requests of the person stops (each one that may still be
    cancelled is) and their personal data are erased (`erase_requests`)."""
    requests = list(
        await session.scalars(
            select(AccessRequest)
            .where(AccessRequest.id.in_(list(request_ids)), AccessRequest.erased_at.is_(None))
            .order_by(AccessRequest.id)
            .with_for_update()
        )
    )
    cancelled = []
    for request in requests:
        status = Status(request.status)
        if Status.CANCELLED in TRANSITIONS[status] and await transition(
            session,
            request.id,
            status,
            Status.CANCELLED,
            actor_id=account_id,
            action="consent_withdrawn",
        ):
            cancelled.append(request.id)
    erased = await erase_requests(session, [r.id for r in requests], actor_id=account_id, at=at)
    return Withdrawal(cancelled, erased)


async def erase_requests(
    session: AsyncSession,
    request_ids: Sequence[int],
    *,
    actor_id: int | None,
    at: datetime | None = None,
    rule: str | None = None,
) -> list[int]:
    """Destroy SNILS, ФИО and e-mail of these requests, the one way every erasure goes (a
    withdrawal of consent, the retention rule, a replay after a restore). What stays for the
    statistics: organisation, position, role, component, status and dates; the proof: an
    `erased` event per request (with `rule` when it was not a withdrawal). Requests already
    erased are left alone: the rows are locked (PostgreSQL) and the UPDATE is conditional, so
    of two erasures at once each request is erased, and proven erased, once. Returns the ids
    this call erased. In the caller's transaction."""
    now = at or utcnow()
    if not request_ids:
        return []
    requests = list(
        await session.scalars(
            select(AccessRequest)
            .where(AccessRequest.id.in_(list(request_ids)), AccessRequest.erased_at.is_(None))
            .order_by(AccessRequest.id)
            .with_for_update()
        )
    )
    if not requests:
        return []
    snils = {r.snils for r in requests}
    emails = {r.email.lower() for r in requests}
    result = await session.execute(
        update(AccessRequest)
        .where(AccessRequest.id.in_([r.id for r in requests]), AccessRequest.erased_at.is_(None))
        .values(
            **dict.fromkeys(PERSONAL_COLUMNS, ""),
            account_id=0,
            search_key="",
            decision_reason=None,  # typed by an admin: may name the person
            org_reason=None,  # typed by the organisation's responsible person: the same
            org_card_held=False,  # an erased request's card is never released
            erased_at=now,
            updated_at=now,
        )
        .returning(AccessRequest.id)
        .execution_options(synchronize_session=False)
    )
    ids = sorted(int(i) for i in result.scalars())
    if not ids:
        return []
    await _scrub_events(session, ids, snils, emails)
    await _free_emails(session, snils, emails)
    await _erase_asks(session, ids)
    # A signed form's scan shows every person it listed: it goes with any of them (item 2.3).
    await org_forms.erase_for_requests(session, ids)
    details: dict[str, Any] = {"fields": list(PERSONAL_COLUMNS)}
    if rule is not None:
        details["rule"] = rule
    events = EventRepository(session)
    for request_id in ids:
        events.add(request_id, "erased", actor_id=actor_id, details=dict(details), at=now)
    return ids


async def _erase_asks(session: AsyncSession, request_ids: list[int]) -> None:
    """The responsible persons' «Новая заявка» messages about these requests show the name,
    position and masked SNILS: each is rewritten (through the outbox, in the erasure's
    transaction) to say the data were deleted, without its buttons, and forgotten here."""
    asks = (
        await session.execute(
            select(OrgAsk.id, OrgAsk.request_id, OrgAsk.chat_id, OrgAsk.message_id)
            .where(OrgAsk.request_id.in_(request_ids))
            .order_by(OrgAsk.id)
        )
    ).all()
    for _, request_id, chat_id, message_id in asks:
        outbox.enqueue(
            session,
            chat_id,
            outbox.Kind.ORG_ASK_ERASED,
            {"message_id": message_id},
            request_id=request_id,
        )
    if asks:
        await session.execute(delete(OrgAsk).where(OrgAsk.id.in_([a[0] for a in asks])))


async def _scrub_events(
    session: AsyncSession, request_ids: list[int], snils: set[str], emails: set[str]
) -> None:
    """Events keep that a field changed, not its old and new values, and no typed reason.
    The old values are collected first: an address or SNILS corrected on a return was the
    person's too."""
    events = await session.scalars(
        select(RequestEvent).where(RequestEvent.request_id.in_(request_ids))
    )
    for event in events:
        details: dict[str, Any] = dict(event.details or {})
        changes: dict[str, Any] = dict(details.get("changes") or {})
        for column, found in (("snils", snils), ("email", emails)):
            for value in changes.get(column) or ():
                if value:
                    found.add(str(value).lower() if column == "email" else str(value))
        scrubbed = {c: [None, None] for c in PERSONAL_COLUMNS if c in changes}
        if scrubbed or details.get("reason"):
            if changes:
                details["changes"] = {**changes, **scrubbed}
            if details.get("reason"):
                details["reason"] = None
            event.details = details


async def _free_emails(session: AsyncSession, snils: set[str], emails: set[str]) -> None:
    """The person's addresses become free, unless an approved request of the same SNILS (the
    same person from another account) still holds one."""
    still_used = exists().where(
        AccessRequest.snils == EmailClaim.snils,
        AccessRequest.erased_at.is_(None),
        AccessRequest.status.in_(HOLDING_STATUSES),
    )
    await session.execute(
        delete(EmailClaim).where(
            or_(EmailClaim.snils.in_(snils), EmailClaim.email.in_(emails)), ~still_used
        )
    )


def record_erasure(
    session: AsyncSession,
    account_id: int,
    withdrawal: Withdrawal,
    *,
    support_thread: bool,
    relayed_messages: int,
    ratings: int,
    at: datetime | None = None,
) -> Erasure | None:
    """The proof of what a withdrawal destroyed beside the requests (whose own proof is their
    `erased` events): the consultation thread, its relay records and the ratings. Counts
    only: nothing of the content. None when there was nothing to destroy."""
    if not (withdrawal.erased or support_thread or relayed_messages or ratings):
        return None
    erasure = Erasure(
        account_id=account_id,
        at=at or utcnow(),
        details={
            "requests": list(withdrawal.erased),
            "support_thread": support_thread,
            "relayed_messages": relayed_messages,
            "ratings": ratings,
        },
    )
    session.add(erasure)
    return erasure


async def drop_erased_words(db: Database) -> None:
    """After an erasure has committed: SQLite's word index keeps the erased SNILS, name and
    e-mail as words under a "delete" mark until its segments are merged (db/search_index.py),
    so they are merged now, in a write transaction of their own (the erasure stands even if
    this fails: the next erasure merges them). PostgreSQL needs nothing: the index entries of
    the old row versions go with VACUUM (autovacuum)."""
    if not db.is_sqlite:
        return
    async with db.write() as session:
        await session.execute(text(search_index.SQLITE_PURGE))
