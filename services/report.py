"""The oversight report (order No 922, items 3.2 and 5): requests by status, time to decision,
organisations with no responsible person, no request, no approved user, and progress against
DEADLINE.

Counted in SQL (GROUP BY, NOT EXISTS, percentiles on PostgreSQL; on SQLite the durations
alone, as floats) and read off the event loop: nothing loads requests as ORM objects, so it
stays fast at 100,000 requests. Nothing personal is in it: counts and organisations' names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from db.database import Database
from db.models import AccessRequest, Organization, StaffEvent, StaffMember, utcnow
from db.offloop import read_off_loop
from services.org_confirmation import has_request
from services.requests import Status
from services.staff import StaffRole
from services.stats import COVERED, _decision_hours

# Views recorded as staff events (who looked at the figures, and when).
VIEWED_STATS = "viewed_stats"
VIEWED_COVERAGE = "viewed_coverage"
VIEWED_REPORT = "viewed_report"


@dataclass
class Report:
    today: date
    deadline: date | None
    by_status: list[tuple[str, int]]
    median_hours: float | None
    p90_hours: float | None
    organizations: int  # directory organisations of the region
    no_responsible: list[str] = field(default_factory=list)
    no_request: list[str] = field(default_factory=list)
    no_approved: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(n for _, n in self.by_status)

    @property
    def covered(self) -> int:
        """Organisations with at least one approved user."""
        return self.organizations - len(self.no_approved)

    @property
    def days_left(self) -> int | None:
        return (self.deadline - self.today).days if self.deadline is not None else None


def _medical(region: str) -> tuple[Any, ...]:
    """The region's medical organisations (items 2.1-2.2): the health department, where chief
    specialists work (item 3.1), is not one of them."""
    return (
        Organization.region == region,
        Organization.deleted.is_(False),
        Organization.is_department.is_(False),
    )


def _names(session: Session, region: str, *conditions: Any) -> list[str]:
    name = func.coalesce(func.nullif(Organization.name_short, ""), Organization.name_full)
    rows = session.scalars(select(name).where(*_medical(region), *conditions).order_by(name))
    return [str(n) for n in rows]


def _collect(session: Session, region: str, today: date, deadline: date | None) -> Report:
    count = func.count().label("n")
    by_status = dict(
        session.execute(select(AccessRequest.status, count).group_by(AccessRequest.status)).all()
    )
    order = [s.value for s in Status]
    median, p90 = _decision_hours(session)
    total = session.scalar(select(func.count()).select_from(Organization).where(*_medical(region)))
    responsible = exists().where(
        StaffMember.organization_id == Organization.id,
        StaffMember.role == StaffRole.RESPONSIBLE.value,
    )
    requested = has_request(Organization.id)  # rejected or cancelled: no request
    approved = exists().where(
        AccessRequest.organization_id == Organization.id, AccessRequest.status.in_(COVERED)
    )
    return Report(
        today=today,
        deadline=deadline,
        by_status=sorted(
            ((str(s), int(n)) for s, n in by_status.items()),
            key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order),
        ),
        median_hours=median,
        p90_hours=p90,
        organizations=int(total or 0),
        no_responsible=_names(session, region, ~responsible),
        no_request=_names(session, region, ~requested),
        no_approved=_names(session, region, ~approved),
    )


async def collect(db: Database, region: str, today: date, deadline: date | None) -> Report:
    return await read_off_loop(db, lambda session: _collect(session, region, today, deadline))


def record_view(session: AsyncSession, actor: int | None, action: str) -> None:
    """Every view of the oversight figures is an event (items 3.2, 5: who watched, when)."""
    session.add(StaffEvent(actor_id=actor, action=action, at=utcnow()))


async def record(db: Database, actor: int | None, action: str) -> None:
    async with db.write() as session:
        record_view(session, actor, action)


async def decision_hours(db: Database) -> tuple[float | None, float | None]:
    """Median and 90th percentile of the time to decision, in hours."""
    return await read_off_loop(db, _decision_hours)
