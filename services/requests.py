"""The access request lifecycle. Every transition is one compare-and-set UPDATE plus one event
row, in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AccessRequest, utcnow
from db.repositories import (
    ConsentRepository,
    EmailClaimRepository,
    EventRepository,
    RequestRepository,
)
from services.text_search import search_key


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
    # Cancelled only by the person withdrawing consent before the export.
    Status.APPROVED: frozenset({Status.EXPORTED, Status.CANCELLED}),
    Status.EXPORTED: frozenset({Status.ACCESS_GRANTED}),
    Status.REJECTED: frozenset(),
    Status.ACCESS_GRANTED: frozenset(),
    Status.CANCELLED: frozenset(),
}
DECISIONS = frozenset({Status.APPROVED, Status.REJECTED, Status.RETURNED})
# Form fields an admin may return for changes → the request columns each one covers.
RETURNABLE: dict[str, tuple[str, ...]] = {
    "snils": ("snils",),
    "full_name": ("full_name",),
    "email": ("email",),
    "organization": ("organization_id", "org_full_name", "org_short_name", "org_manual"),
    "position": ("position", "position_in_matrix", "role", "role_level"),
}


def request_search_key(values: dict[str, Any]) -> str:
    snils_digits = "".join(ch for ch in str(values.get("snils", "")) if ch.isdigit())
    parts = [values.get(k) or "" for k in ("full_name", "email", "org_full_name", "org_short_name")]
    return f"{search_key(' '.join(parts))} {snils_digits}"


class TransitionNotAllowed(ValueError):
    pass


@dataclass(frozen=True)
class NewRequest:
    account_id: int
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
    # The consent given on the first screen (version, time), stored with the request.
    consent_version: str | None = None
    consent_at: datetime | None = None

    def __post_init__(self) -> None:
        # The form's columns (order No 922, appendix): none may go out empty, and a position
        # of the role matrix goes out with the role chosen for it (the admin picks a role
        # only for a position typed outside the matrix).
        empty = [
            name
            for name in ("snils", "full_name", "email", "region", "org_full_name", "position")
            if not getattr(self, name)
        ]
        if empty:
            raise ValueError(f"a request without {', '.join(empty)}")
        if self.position_in_matrix and self.role is None:
            raise ValueError("a position of the role matrix without its role")

    def columns(self) -> dict[str, Any]:
        values = dict(self.__dict__)
        values.pop("consent_version"), values.pop("consent_at")
        return values


@dataclass(frozen=True)
class Submitted:
    request: AccessRequest


@dataclass(frozen=True)
class AlreadyOpen:
    request: AccessRequest


SubmitResult = Submitted | AlreadyOpen

# Statuses in which a request holds its e-mail for its person: the order's rule «one address,
# one user» is enforced at approval and at export, not while people fill in the form, so
# nobody can lock an address (or a SNILS) out by typing it first.
HOLDING_STATUSES = (Status.APPROVED.value, Status.EXPORTED.value, Status.ACCESS_GRANTED.value)


class EmailHeld(Exception):
    """Approval refused: another person's (another SNILS's) approved request has the address."""

    def __init__(self, email: str, holder_id: int | None) -> None:
        super().__init__("the e-mail belongs to another person's approved request")
        self.email = email
        self.holder_id = holder_id


async def email_holder(
    session: AsyncSession, email: str, snils: str, exclude_request_id: int | None = None
) -> AccessRequest | None:
    """Another person's request that holds the address: approved, exported or access granted,
    of a different SNILS. The same person's other requests (any account) may share it."""
    query = select(AccessRequest).where(
        func.lower(AccessRequest.email) == email.lower(),
        AccessRequest.snils != snils,
        AccessRequest.status.in_(HOLDING_STATUSES),
        AccessRequest.erased_at.is_(None),
    )
    if exclude_request_id is not None:
        query = query.where(AccessRequest.id != exclude_request_id)
    return await session.scalar(query.order_by(AccessRequest.id).limit(1))


async def _hold_email(session: AsyncSession, request: AccessRequest) -> None:
    """The approved request's person takes its address, or the approval is refused."""
    holder = await email_holder(session, request.email, request.snils, request.id)
    if holder is not None:
        raise EmailHeld(request.email, holder.id)
    claims = EmailClaimRepository(session)
    owner = await claims.owner(request.email)
    if not await claims.claim(request.email, request.snils, owner):
        holder = await email_holder(session, request.email, request.snils, request.id)
        raise EmailHeld(request.email, holder.id if holder else None)


async def submit(session: AsyncSession, new: NewRequest) -> SubmitResult:
    """Create a submitted request, or point at the person's own live request for the same
    role. Safe against a double press: the partial unique index on live requests (the
    account, SNILS, component, role) decides between two concurrent submits."""
    requests = RequestRepository(session)
    existing = await requests.find_live(new.account_id, new.snils, new.component, new.role)
    if existing is not None:
        return AlreadyOpen(existing)
    now = utcnow()
    try:
        async with session.begin_nested():
            consent_id = None
            if new.consent_version is not None:
                consent = await ConsentRepository(session).record(
                    new.account_id, new.consent_version, accepted=True, at=new.consent_at
                )
                consent_id = consent.id
            request = await requests.add(
                AccessRequest(
                    **new.columns(),
                    consent_id=consent_id,
                    search_key=request_search_key(new.__dict__),
                    status=Status.SUBMITTED.value,
                    created_at=now,
                    submitted_at=now,
                    updated_at=now,
                )
            )
            EventRepository(session).add(
                request.id,
                "created",
                actor_id=new.account_id,
                to_status=Status.SUBMITTED.value,
                at=now,
            )
            await session.flush()
    except IntegrityError:
        existing = await requests.find_live(new.account_id, new.snils, new.component, new.role)
        if existing is None:
            raise
        return AlreadyOpen(existing)
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
    extra: dict[str, Any] | None = None,
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
        extra=extra,
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


async def decide(
    session: AsyncSession,
    request_id: int,
    decision: Status,
    *,
    actor_id: int,
    reason: str | None = None,
    fields: list[str] | None = None,
) -> bool:
    """An admin's decision on a submitted request; false when another decision came first.
    Approval raises EmailHeld (and changes nothing, when the caller's transaction is rolled
    back) while another person's approved request has the same address."""
    if decision not in DECISIONS:
        raise TransitionNotAllowed(str(decision))
    held = await session.scalar(
        select(AccessRequest.org_card_held).where(AccessRequest.id == request_id)
    )
    if held:  # ORG_CONFIRMATION=required: decided only after the organisation's answer
        return False
    returned = decision is Status.RETURNED
    decided = await transition(
        session,
        request_id,
        Status.SUBMITTED,
        decision,
        actor_id=actor_id,
        action=decision.value,
        reason=reason,
        details={"fields": fields} if returned else None,
        extra={"return_fields": fields} if returned else None,
    )
    if decided and decision is Status.APPROVED:
        request = await session.get(AccessRequest, request_id)
        if request is not None:
            await session.refresh(request)
            await _hold_email(session, request)
    return decided


async def change_role(
    session: AsyncSession,
    request_id: int,
    role: str,
    level: str,
    *,
    actor_id: int,
    reason: str,
) -> bool:
    """Set the role of a request still waiting for a decision (one conditional UPDATE)."""
    request = await session.get(AccessRequest, request_id)
    if request is None or request.status != Status.SUBMITTED.value:
        return False
    old_role = request.role
    now = utcnow()
    result = await session.execute(
        update(AccessRequest)
        .where(
            AccessRequest.id == request_id,
            AccessRequest.status == Status.SUBMITTED.value,
            AccessRequest.role.is_not_distinct_from(old_role),
        )
        .values(role=role, role_level=level, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return False
    EventRepository(session).add(
        request_id,
        "role_changed",
        actor_id=actor_id,
        at=now,
        details={"changes": {"role": [old_role, role]}, "reason": reason},
    )
    return True


@dataclass(frozen=True)
class NotReturned:
    """The request is not (or no longer) waiting for this person's corrections."""


ResubmitResult = Submitted | AlreadyOpen | NotReturned


async def resubmit(
    session: AsyncSession, request_id: int, account_id: int, values: dict[str, Any]
) -> ResubmitResult:
    """The applicant's corrections to a returned request: only the returned fields change,
    and the event records each change as old → new."""
    requests = RequestRepository(session)
    request = await requests.get(request_id)
    if (
        request is None
        or request.account_id != account_id
        or request.status != Status.RETURNED.value
    ):
        return NotReturned()
    allowed = {col for f in (request.return_fields or []) for col in RETURNABLE.get(f, ())}
    new_values = {k: v for k, v in values.items() if k in allowed}
    changes = {
        k: [getattr(request, k), v] for k, v in new_values.items() if getattr(request, k) != v
    }
    snils = new_values.get("snils", request.snils)
    current = {
        c: getattr(request, c)
        for c in ("full_name", "email", "snils", "org_full_name", "org_short_name")
    }
    now = utcnow()
    try:
        async with session.begin_nested():
            changed = await requests.compare_and_set_status(
                request_id,
                [Status.RETURNED.value],
                Status.SUBMITTED.value,
                actor_id=account_id,
                at=now,
                extra={
                    **new_values,
                    "return_fields": None,
                    "submitted_at": now,
                    "search_key": request_search_key({**current, **new_values}),
                },
            )
            if not changed:
                return NotReturned()
            EventRepository(session).add(
                request_id,
                "resubmitted",
                actor_id=account_id,
                from_status=Status.RETURNED.value,
                to_status=Status.SUBMITTED.value,
                details={"changes": changes},
                at=now,
            )
            await session.flush()
    except IntegrityError:
        existing = await requests.find_live(account_id, snils, request.component, request.role)
        if existing is None:
            raise
        return AlreadyOpen(existing)
    await session.refresh(request)
    return Submitted(request)


async def last_changes(session: AsyncSession, request_id: int) -> dict[str, list[Any]]:
    """What the latest resubmission changed (old → new), for the admin card."""
    events = await EventRepository(session).for_request(request_id)
    for event in reversed(events):
        if event.action == "resubmitted":
            return dict((event.details or {}).get("changes", {}))
        if event.action in ("created", "returned"):
            break
    return {}
