"""The access request lifecycle. Every transition is one compare-and-set UPDATE plus one event
row, in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AccessRequest, utcnow
from db.repositories import EmailClaimRepository, EventRepository, RequestRepository


class Status(StrEnum):
    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPORTED = "exported"
    ACCESS_GRANTED = "access_granted"
    CANCELLED = "cancelled"


# draft lives in the dialog (FSM) until «Отправить»; the database starts at submitted.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.SUBMITTED: frozenset(
        {Status.RETURNED, Status.APPROVED, Status.REJECTED, Status.CANCELLED}
    ),
    Status.RETURNED: frozenset({Status.SUBMITTED, Status.CANCELLED}),
    Status.APPROVED: frozenset({Status.EXPORTED}),
    Status.EXPORTED: frozenset({Status.ACCESS_GRANTED}),
    Status.REJECTED: frozenset(),
    Status.ACCESS_GRANTED: frozenset(),
    Status.CANCELLED: frozenset(),
}
DECISIONS = frozenset({Status.APPROVED, Status.REJECTED, Status.RETURNED})


class TransitionNotAllowed(ValueError):
    pass


@dataclass(frozen=True)
class NewRequest:
    telegram_id: int
    consent_id: int | None
    snils: str
    full_name: str
    email: str
    region: str
    organization_id: int | None
    org_full_name: str
    org_short_name: str
    org_manual: bool
    position: str
    position_in_matrix: bool
    role: str | None
    role_level: str | None
    component: str


@dataclass(frozen=True)
class Submitted:
    request: AccessRequest


@dataclass(frozen=True)
class AlreadyOpen:
    request: AccessRequest


@dataclass(frozen=True)
class EmailTaken:
    email: str


SubmitResult = Submitted | AlreadyOpen | EmailTaken


async def email_available(session: AsyncSession, email: str, snils: str) -> bool:
    owner = await EmailClaimRepository(session).owner(email)
    return owner is None or owner == snils


async def submit(session: AsyncSession, new: NewRequest) -> SubmitResult:
    """Create a submitted request, or say why not. Safe against a double press: the partial
    unique index on live requests decides between two concurrent submits."""
    requests = RequestRepository(session)
    existing = await requests.find_live(new.snils, new.component, new.role)
    if existing is not None:
        return AlreadyOpen(existing)
    claims = EmailClaimRepository(session)
    owner = await claims.owner(new.email)
    if owner is not None and owner != new.snils:
        return EmailTaken(new.email)
    now = utcnow()
    try:
        async with session.begin_nested():
            if owner is None:
                claims.claim(new.email, new.snils)
            request = await requests.add(
                AccessRequest(
                    **new.__dict__,
                    status=Status.SUBMITTED.value,
                    created_at=now,
                    submitted_at=now,
                    updated_at=now,
                )
            )
            EventRepository(session).add(
                request.id,
                "created",
                actor_id=new.telegram_id,
                to_status=Status.SUBMITTED.value,
                at=now,
            )
            await session.flush()
    except IntegrityError:
        existing = await requests.find_live(new.snils, new.component, new.role)
        if existing is not None:
            return AlreadyOpen(existing)
        return EmailTaken(new.email)
    return Submitted(request)


async def transition(
    session: AsyncSession,
    request_id: int,
    expected: Status,
    new: Status,
    *,
    actor_id: int | None,
    action: str,
    reason: str | None = None,
    details: dict[str, object] | None = None,
) -> bool:
    """Move a request from `expected` to `new`; false when someone else moved it first."""
    if new not in TRANSITIONS[expected]:
        raise TransitionNotAllowed(f"{expected} -> {new}")
    now = utcnow()
    changed = await RequestRepository(session).compare_and_set_status(
        request_id,
        [expected.value],
        new.value,
        actor_id=actor_id,
        at=now,
        decision=new in DECISIONS,
        reason=reason,
    )
    if changed:
        EventRepository(session).add(
            request_id,
            action,
            actor_id=actor_id,
            from_status=expected.value,
            to_status=new.value,
            details={"reason": reason, **(details or {})},
            at=now,
        )
    return changed
