"""Oversight figures for the department: counts, time to decision, coverage of organisations
(order items 2.1–2.2)."""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AccessRequest, Organization
from services.requests import Status

LOCAL_TZ = ZoneInfo("Europe/Moscow")
# Statuses that mean the organisation has (or is about to have) a working user.
COVERED = (Status.APPROVED.value, Status.EXPORTED.value, Status.ACCESS_GRANTED.value)
TOP = 15


@dataclass
class Stats:
    by_status: list[tuple[str, int]]
    by_org: list[tuple[str, int]]
    by_role: list[tuple[str, int]]
    median_hours: float | None
    p90_hours: float | None
    per_day: dict[date, Counter[str]] = field(default_factory=dict)
    approved_by_org: list[tuple[str, int]] = field(default_factory=list)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `share` of values ≤ it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


async def collect(session: AsyncSession) -> Stats:
    rows = list(await session.scalars(select(AccessRequest).order_by(AccessRequest.id)))
    by_status = Counter(r.status for r in rows)
    by_org = Counter(r.org_short_name or r.org_full_name for r in rows)
    by_role = Counter(r.role or "не выбрана" for r in rows)
    # A resubmitted request waits again: its earlier decision (the return) does not count.
    decided = (*COVERED, Status.REJECTED.value, Status.RETURNED.value)
    hours = [
        (r.decided_at - r.submitted_at).total_seconds() / 3600
        for r in rows
        if r.status in decided
        and r.decided_at is not None
        and r.submitted_at is not None
        and r.decided_at >= r.submitted_at
    ]
    per_day: dict[date, Counter[str]] = defaultdict(Counter)
    for r in rows:
        per_day[(r.submitted_at or r.created_at).astimezone(LOCAL_TZ).date()][r.status] += 1
    approved = Counter(r.org_short_name or r.org_full_name for r in rows if r.status in COVERED)
    order = [s.value for s in Status]
    return Stats(
        by_status=sorted(by_status.items(), key=lambda kv: order.index(kv[0])),
        by_org=by_org.most_common(TOP),
        by_role=by_role.most_common(),
        median_hours=statistics.median(hours) if hours else None,
        p90_hours=percentile(hours, 0.9) if hours else None,
        per_day=dict(sorted(per_day.items())),
        approved_by_org=approved.most_common(TOP),
    )


async def uncovered(session: AsyncSession, region: str) -> tuple[int, list[Organization]]:
    """Directory organisations of the region with no approved or access-granted user yet."""
    organizations = list(
        await session.scalars(
            select(Organization)
            .where(Organization.region == region, Organization.deleted.is_(False))
            .order_by(Organization.name_short)
        )
    )
    covered = set(
        await session.scalars(
            select(AccessRequest.organization_id).where(
                AccessRequest.status.in_(COVERED), AccessRequest.organization_id.is_not(None)
            )
        )
    )
    return len(organizations), [o for o in organizations if o.id not in covered]
