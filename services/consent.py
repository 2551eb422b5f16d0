"""Withdrawal of consent to personal-data processing (152-FZ, art. 9 and 21): processing
stops and the person's data is destroyed, and the event log proves both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AccessRequest, Consent, EmailClaim, RequestEvent, utcnow
from db.repositories import EventRepository
from services.requests import TRANSITIONS, Status, transition

# What identifies the person in a request. Organisation, position and role stay: they
# identify nobody by themselves and keep the statistics whole.
PERSONAL_COLUMNS = ("snils", "full_name", "email")


@dataclass(frozen=True)
class Withdrawal:
    cancelled: list[int]  # requests whose processing stopped
    erased: list[int]  # requests whose personal data was destroyed


async def withdraw(
    session: AsyncSession, telegram_id: int, at: datetime | None = None
) -> Withdrawal:
    """Everything the bot keeps about `telegram_id`'s requests, in the caller's transaction.
    The dialog draft lives in the FSM storage: the caller clears it."""
    now = at or utcnow()
    await session.execute(
        update(Consent)
        .where(Consent.telegram_id == telegram_id, Consent.withdrawn_at.is_(None))
        .values(withdrawn_at=now)
    )
    requests = list(
        await session.scalars(
            select(AccessRequest)
            .where(AccessRequest.telegram_id == telegram_id, AccessRequest.erased_at.is_(None))
            .order_by(AccessRequest.id)
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
            actor_id=telegram_id,
            action="consent_withdrawn",
        ):
            cancelled.append(request.id)
    ids = [r.id for r in requests]
    if not ids:
        return Withdrawal(cancelled, [])
    await _free_emails(session, telegram_id, {r.snils for r in requests})
    await _scrub_events(session, ids)
    await session.execute(
        update(AccessRequest)
        .where(AccessRequest.id.in_(ids))
        .values(
            **dict.fromkeys(PERSONAL_COLUMNS, ""),
            search_key="",
            erased_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    events = EventRepository(session)
    for request_id in ids:
        events.add(
            request_id,
            "erased",
            actor_id=telegram_id,
            details={"fields": list(PERSONAL_COLUMNS), "reason": "consent_withdrawn"},
            at=now,
        )
    return Withdrawal(cancelled, ids)


async def _free_emails(session: AsyncSession, telegram_id: int, snils: set[str]) -> None:
    """The person's addresses become free, unless a request of the same SNILS from another
    Telegram account still uses one."""
    others = exists().where(
        AccessRequest.snils == EmailClaim.snils,
        AccessRequest.telegram_id != telegram_id,
        AccessRequest.erased_at.is_(None),
    )
    await session.execute(delete(EmailClaim).where(EmailClaim.snils.in_(snils), ~others))


async def _scrub_events(session: AsyncSession, request_ids: list[int]) -> None:
    """Events keep that a field changed, not its old and new values."""
    events = await session.scalars(
        select(RequestEvent).where(RequestEvent.request_id.in_(request_ids))
    )
    for event in events:
        changes: dict[str, Any] = dict((event.details or {}).get("changes") or {})
        if any(column in changes for column in PERSONAL_COLUMNS):
            for column in PERSONAL_COLUMNS:
                if column in changes:
                    changes[column] = [None, None]
            event.details = {**(event.details or {}), "changes": changes}
