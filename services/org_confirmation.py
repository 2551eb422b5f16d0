"""Confirmation of requests by their organisation's responsible persons (order No 922, items
2.1 and 2.3), and what a responsible person sees of their organisation.

ORG_CONFIRMATION decides what a new request does:
- `off`: nothing goes to responsible persons (state `not_required`);
- `optional` (default): the admins' card is posted at once, each responsible person of the
  organisation is asked, and the card shows the answer when it comes;
- `required`: the card is held (`org_card_held`) until the first answer. With no responsible
  person (or an organisation typed by hand), or when the applicant is its only one, it is
  posted at once, saying so; with no answer after ORG_CONFIRMATION_DAYS a periodic job posts
  it with a warning (state `overdue`, an answer is still taken); when its last responsible
  person is removed meanwhile, it is posted then (state `responsible_gone`). A decline posts
  it too, with the reason: the admin decides.

The first answer wins: one conditional UPDATE per answer (and per expiry), which also tells
whether the card was being held, so it is posted exactly once. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AccessRequest, Organization, OrgAsk, StaffMember, utcnow
from db.repositories import EventRepository
from services import outbox, staff
from services.outbox import Kind
from services.requests import Status
from services.role_matrix import RoleMatrix
from services.staff import StaffRole


class Mode(StrEnum):
    OFF = "off"
    OPTIONAL = "optional"
    REQUIRED = "required"


class State(StrEnum):
    AWAITING = "awaiting"
    OVERDUE = "overdue"  # required, no answer in time: the card went out with a warning
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    NOT_REQUIRED = "not_required"
    NO_RESPONSIBLE = "no_responsible"
    # The applicant is the organisation's only responsible person: nobody else can confirm
    # (nobody confirms their own request), so МИАЦ decides without the organisation's word.
    ONLY_APPLICANT = "only_applicant"
    # required: the organisation's last responsible person (other than the applicant) was
    # removed while the card was held: it went out without the organisation's word.
    RESPONSIBLE_GONE = "responsible_gone"


# An answer is still taken after the card went out without one (a responsible person
# appointed later may give it; the card shows it).
OPEN_STATES = (State.AWAITING.value, State.OVERDUE.value, State.RESPONSIBLE_GONE.value)
# Shown, never stored: МИАЦ decided while the organisation's answer was still awaited.
UNANSWERED = "unanswered"
# An answer is taken while the request is still before a decision.
ANSWERABLE = (Status.SUBMITTED.value, Status.RETURNED.value)
APPROVED = (Status.APPROVED.value, Status.EXPORTED.value, Status.ACCESS_GRANTED.value)
# Requests an organisation's form (XLSX) lists: everything not closed and not erased.
IN_FORM = (Status.SUBMITTED.value, Status.RETURNED.value, *APPROVED)


async def on_submitted(session: AsyncSession, mode: Mode, request: AccessRequest) -> list[int]:
    """A new request: set its confirmation state and ask each responsible person of its
    organisation (through the outbox). Returns whom it asked."""
    people: list[int] = []
    if mode is Mode.OFF:
        state = State.NOT_REQUIRED
    else:
        everyone: list[int] = []
        if request.organization_id is not None:
            everyone = await staff.responsible_of(session, request.organization_id)
            # Nobody confirms their own request: the organisation's other responsible
            # persons are asked.
            people = [p for p in everyone if p != request.account_id]
        if people:
            state = State.AWAITING
        else:
            state = State.ONLY_APPLICANT if everyone else State.NO_RESPONSIBLE
    request.org_confirmation = state.value
    request.org_card_held = mode is Mode.REQUIRED and state is State.AWAITING
    await session.flush()
    for person in people:
        outbox.enqueue(
            session,
            person,
            Kind.ORG_CONFIRM,
            # The row goes with the applicant's other rows when they withdraw consent.
            user_id=request.account_id or None,
            request_id=request.id,
        )
    return people


def shown_state(status: str, state: str | None) -> str | None:
    """What to say of the organisation's answer: an open state once МИАЦ has decided is no
    longer «waiting» but «not answered before the decision»."""
    if state in OPEN_STATES and status not in ANSWERABLE:
        return UNANSWERED
    return state


async def ask_chats(session: AsyncSession, request_id: int) -> list[int]:
    """The chats where a responsible person was asked about the request."""
    rows = await session.scalars(
        select(OrgAsk.chat_id).where(OrgAsk.request_id == request_id).distinct()
    )
    return sorted(rows)


class Refused(StrEnum):
    NOT_YOURS = "not_yours"  # not a responsible person of the request's organisation
    OWN = "own"  # their own request: someone else of the organisation confirms it
    ALREADY = "already"  # answered already (by them or a colleague), or decided


@dataclass(frozen=True)
class Answered:
    request: AccessRequest
    was_held: bool  # the admins' card was waiting for this answer: post it now


async def request_of_org(
    session: AsyncSession, actor: int, request_id: int
) -> AccessRequest | None:
    """The request, when `actor` is a responsible person of its organisation."""
    organization_id = await staff.organization_of(session, actor)
    if organization_id is None:
        return None
    request = await session.get(AccessRequest, request_id)
    if request is None or request.organization_id != organization_id:
        return None
    if request.erased_at is not None:
        return None
    return request


async def answer(
    session: AsyncSession,
    request_id: int,
    actor: int,
    confirm: bool,
    reason: str | None = None,
) -> Answered | Refused:
    """A responsible person's «Подтверждаю» / «Не подтверждаю». The first answer wins: the
    UPDATE matches only an open state, and says (by which of its two forms matched) whether
    the card was held, so that a concurrent expiry and this answer post it once."""
    request = await request_of_org(session, actor, request_id)
    if request is None:
        return Refused.NOT_YOURS
    if request.account_id == actor:
        return Refused.OWN
    now = utcnow()
    state = State.CONFIRMED if confirm else State.DECLINED
    for held in (True, False):
        result = await session.execute(
            update(AccessRequest)
            .where(
                AccessRequest.id == request_id,
                AccessRequest.org_confirmation.in_(OPEN_STATES),
                AccessRequest.status.in_(ANSWERABLE),
                AccessRequest.org_card_held.is_(held),
            )
            .values(
                org_confirmation=state.value,
                org_card_held=False,
                org_answered_by=actor,
                org_answered_at=now,
                org_reason=None if confirm else reason,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) == 1:
            EventRepository(session).add(
                request_id,
                "org_confirmed" if confirm else "org_declined",
                actor_id=actor,
                details={"reason": None if confirm else reason},
                at=now,
            )
            await session.refresh(request)
            return Answered(request, was_held=held)
    return Refused.ALREADY


def _releasable() -> tuple[ColumnElement[bool], ...]:
    """A held card may be released only while its request still waits for the organisation:
    submitted, not erased, not answered (a withdrawn, cancelled or decided one never is)."""
    return (
        AccessRequest.org_card_held.is_(True),
        AccessRequest.org_confirmation == State.AWAITING.value,
        AccessRequest.status == Status.SUBMITTED.value,
        AccessRequest.erased_at.is_(None),
    )


async def expire(session: AsyncSession, days: float, now: datetime | None = None) -> list[int]:
    """Held cards whose organisation has not answered in `days`: released (state
    `overdue`), each by a conditional UPDATE, so with several workers each goes out once.
    Returns the requests whose cards the caller posts, in this transaction."""
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    due = await session.scalars(
        select(AccessRequest.id)
        .where(*_releasable(), AccessRequest.submitted_at <= cutoff)
        .order_by(AccessRequest.id)
    )
    released = []
    for request_id in list(due):
        result = await session.execute(
            update(AccessRequest)
            .where(AccessRequest.id == request_id, *_releasable())
            .values(org_confirmation=State.OVERDUE.value, org_card_held=False, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) == 1:
            EventRepository(session).add(
                request_id, "org_overdue", actor_id=None, details={"days": days}, at=now
            )
            released.append(request_id)
    return released


async def release_without_responsible(
    session: AsyncSession, organization_id: int, now: datetime | None = None
) -> list[int]:
    """A responsible person of `organization_id` was removed: its held cards that nobody is
    left to confirm (no responsible person but, at most, the applicant) are released (state
    `responsible_gone`), each by a conditional UPDATE, instead of waiting out the days.
    Returns the requests whose cards the caller posts, in this transaction."""
    now = now or utcnow()
    people = set(await staff.responsible_of(session, organization_id))
    held = (
        await session.execute(
            select(AccessRequest.id, AccessRequest.account_id)
            .where(*_releasable(), AccessRequest.organization_id == organization_id)
            .order_by(AccessRequest.id)
        )
    ).all()
    released = []
    for request_id, applicant in held:
        if people - {applicant}:
            continue  # someone can still answer
        result = await session.execute(
            update(AccessRequest)
            .where(AccessRequest.id == request_id, *_releasable())
            .values(
                org_confirmation=State.RESPONSIBLE_GONE.value, org_card_held=False, updated_at=now
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) == 1:
            EventRepository(session).add(
                request_id, "org_responsible_gone", actor_id=None, details={}, at=now
            )
            released.append(int(request_id))
    return released


# --- what a responsible person sees -----------------------------------------------------------


class Filter(StrEnum):
    ALL = "all"
    WAITING = "wait"  # waiting for the organisation's answer
    RETURNED = "ret"
    APPROVED = "appr"


def _filter(organization_id: int, which: Filter) -> ColumnElement[bool]:
    mine = and_(AccessRequest.organization_id == organization_id, AccessRequest.erased_at.is_(None))
    if which is Filter.WAITING:
        return and_(
            mine,
            AccessRequest.org_confirmation.in_(OPEN_STATES),
            AccessRequest.status.in_(ANSWERABLE),
        )
    if which is Filter.RETURNED:
        return and_(mine, AccessRequest.status == Status.RETURNED.value)
    if which is Filter.APPROVED:
        return and_(mine, AccessRequest.status.in_(APPROVED))
    return mine


async def page(
    session: AsyncSession, organization_id: int, which: Filter, size: int, number: int
) -> tuple[int, int, list[AccessRequest]]:
    """(total, the page shown, its rows): a stale page number (the list got shorter since
    the button was made) shows the last page that exists."""
    condition = _filter(organization_id, which)
    total = int(
        await session.scalar(select(func.count()).select_from(AccessRequest).where(condition)) or 0
    )
    pages = max(1, -(-total // size))
    number = min(max(number, 0), pages - 1)
    rows = await session.scalars(
        select(AccessRequest)
        .where(condition)
        .order_by(AccessRequest.id.desc())
        .limit(size)
        .offset(number * size)
    )
    return total, number, list(rows)


async def positions_with_requests(session: AsyncSession, organization_id: int) -> set[str]:
    rows = await session.scalars(
        # A position has a request as the organisation has one (`has_request`).
        select(AccessRequest.position).where(
            AccessRequest.organization_id == organization_id,
            AccessRequest.status.in_(IN_FORM),
        )
    )
    return set(rows)


# The matrix's level of a medical organisation's own posts (the order's appendix).
ORGANISATION_LEVEL = "Медицинская организация РФ"


def organisation_positions(matrix: RoleMatrix) -> list[str]:
    """The matrix's posts in a medical organisation: those with a role of its level (not the
    region's or the federal ones); every commonly offered post if the matrix has no such
    level."""
    own = [
        p
        for p in matrix.positions
        if any(r.level == ORGANISATION_LEVEL for r in matrix.roles_for(p))
    ]
    return own or [p for p in matrix.positions if p not in matrix.on_request]


def missing_positions(positions: Sequence[str], taken: set[str]) -> list[str]:
    """Positions of the role matrix for which the organisation has no live request yet."""
    return [p for p in positions if p not in taken]


async def form_rows(session: AsyncSession, organization_id: int) -> list[AccessRequest]:
    """The requests the organisation's form lists for the head's signature. Item 2.3: the
    head sends the organisation's request for access, so the form lists only the people the
    organisation asks for; one it declined (its responsible person said the person does not
    work there, or not in that post) is left out rather than listed with a status column —
    a head signs a list of whom they ask access for, not a record of who was refused."""
    rows = await session.scalars(
        select(AccessRequest)
        .where(
            AccessRequest.organization_id == organization_id,
            AccessRequest.erased_at.is_(None),
            AccessRequest.status.in_(IN_FORM),
            AccessRequest.org_confirmation.is_distinct_from(State.DECLINED.value),
        )
        .order_by(AccessRequest.id)
    )
    return list(rows)


async def organization(session: AsyncSession, organization_id: int) -> Organization | None:
    return await session.get(Organization, organization_id)


def has_request(organization_id: SQLColumnExpression[Any]) -> ColumnElement[bool]:
    """THE definition of «the organisation has a request», the same for the deadline
    reminders, /org, /broadcast «без заявок» and /report: one that is live (submitted or
    returned) or approved (approved, exported, access granted, even if its personal data
    were erased since). A rejected or cancelled request is no request: the organisation
    still has to apply."""
    return exists().where(
        AccessRequest.organization_id == organization_id,
        AccessRequest.status.in_(IN_FORM),
    )


async def responsible_without_requests(session: AsyncSession) -> list[tuple[int, int]]:
    """(responsible person, organisation) for organisations with no request yet
    (`has_request`): the deadline reminders go to them too."""
    live = has_request(StaffMember.organization_id)
    rows = await session.execute(
        select(StaffMember.account_id, StaffMember.organization_id)
        .where(
            StaffMember.role == StaffRole.RESPONSIBLE.value,
            StaffMember.organization_id.is_not(None),
            ~live,
        )
        .order_by(StaffMember.account_id)
    )
    return [(uid, int(org)) for uid, org in rows.all() if org is not None]
