"""Oversight figures for the department: counts, time to decision, coverage of organisations
(order items 2.1–2.2).

Counted in SQL (GROUP BY, percentiles), so 100,000 requests come back as a few dozen rows, and
read off the event loop (db/offloop.py): on SQLite a GROUP BY over the whole table would
otherwise stop every dialog while it runs.
"""

from __future__ import annotations

import math
import weakref
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Engine, Float, cast, exists, func, select
from sqlalchemy.orm import Session

from db.database import Database
from db.models import AccessRequest, Organization
from db.offloop import read_off_loop
from services.periods import group_periods
from services.requests import Status

__all__ = ["Stats", "collect", "group_periods", "uncovered"]

LOCAL_TZ = ZoneInfo("Europe/Moscow")
# Statuses that mean the organisation has (or is about to have) a working user.
COVERED = (Status.APPROVED.value, Status.EXPORTED.value, Status.ACCESS_GRANTED.value)
# A resubmitted request waits again: its earlier decision (the return) does not count.
DECIDED = (*COVERED, Status.REJECTED.value, Status.RETURNED.value)
TOP = 15  # organisations listed in the message
NO_ROLE = "не выбрана"
CHART_TOP = 20  # organisations drawn in the chart; the rest are one bar, «остальные»


@dataclass
class Stats:
    by_status: list[tuple[str, int]]
    by_org: list[tuple[str, int]]
    by_role: list[tuple[str, int]]
    median_hours: float | None
    p90_hours: float | None
    per_day: dict[date, Counter[str]] = field(default_factory=dict)
    approved_by_org: list[tuple[str, int]] = field(default_factory=list)
    # Organisations beyond `approved_by_org` with approved users: how many, and their users.
    approved_others: tuple[int, int] = (0, 0)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `share` of values ≤ it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _org_name() -> Any:
    return func.coalesce(func.nullif(AccessRequest.org_short_name, ""), AccessRequest.org_full_name)


def _local_day(session: Session) -> Any:
    when = AccessRequest.submitted_at  # set when a request is created: every row has it
    if session.get_bind().dialect.name == "sqlite":
        # Stored as UTC text; Moscow has kept UTC+3 all year since 2014.
        return func.date(when, "+3 hours")
    return cast(func.timezone(str(LOCAL_TZ), when), Date)


# The time to decision, by database: (what it was computed from, median, p90). Computing it
# reads every decided request (a fifth of a second at 100,000 on SQLite); it changes only when
# a request is decided (decided_at = now: the latest decision moves) or leaves the decided
# statuses (the count drops), so it is computed again only then.
# Kept per engine (a database opened again starts afresh).
_hours_cache: weakref.WeakKeyDictionary[Engine, tuple[tuple[Any, ...], float | None, float | None]]
_hours_cache = weakref.WeakKeyDictionary()


def _timed() -> tuple[Any, ...]:
    return (
        AccessRequest.status.in_(DECIDED),
        AccessRequest.decided_at.is_not(None),
        AccessRequest.submitted_at.is_not(None),
        AccessRequest.decided_at >= AccessRequest.submitted_at,
    )


def _decision_hours(session: Session) -> tuple[float | None, float | None]:
    # From the index on (status, decided_at, submitted_at) alone, a few milliseconds.
    count, latest = session.execute(
        select(func.count(), func.max(AccessRequest.decided_at)).where(*_timed())
    ).one()
    engine = session.get_bind().engine
    key = (int(count or 0), latest)
    cached = _hours_cache.get(engine)
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    median, p90 = _compute_decision_hours(session)
    _hours_cache[engine] = (key, median, p90)
    return median, p90


def _compute_decision_hours(session: Session) -> tuple[float | None, float | None]:
    timed = _timed()
    if session.get_bind().dialect.name == "sqlite":
        # No percentiles in SQLite: the durations alone, from the index on (status,
        # decided_at, submitted_at), on a worker thread. (Ranking them with a window in SQL
        # measured slower than sorting them here.)
        days = func.julianday(AccessRequest.decided_at) - func.julianday(AccessRequest.submitted_at)
        values = sorted(session.scalars(select(days).where(*timed)))
        if not values:
            return None, None

        def hours(value: float) -> float:
            # julianday is a float of days: rounded to the millisecond, whole hours stay
            # whole. Rounding keeps the order, so it may come after the ranking.
            return round(value * 86400, 3) / 3600

        middle = len(values) // 2
        if len(values) % 2:
            median = hours(values[middle])
        else:
            median = (hours(values[middle - 1]) + hours(values[middle])) / 2
        return median, hours(values[max(0, math.ceil(0.9 * len(values)) - 1)])
    seconds = func.extract("epoch", AccessRequest.decided_at - AccessRequest.submitted_at)
    median, p90 = session.execute(
        select(
            func.percentile_cont(0.5).within_group(cast(seconds, Float)),
            # The nearest-rank percentile, as `percentile` computes it.
            func.percentile_disc(0.9).within_group(cast(seconds, Float)),
        ).where(*timed)
    ).one()
    if median is None:
        return None, None
    return float(median) / 3600, float(p90) / 3600


def _by_organization(session: Session, *where: Any) -> list[tuple[str, int]]:
    """Requests per organisation, most first. Directory organisations are counted by id from
    the index on (organization_id, status) and named from the directory; organisations typed
    by hand, by the name typed."""
    count = func.count().label("n")
    listed = session.execute(
        select(AccessRequest.organization_id, count)
        .where(AccessRequest.organization_id.is_not(None), *where)
        .group_by(AccessRequest.organization_id)
    ).all()
    names: dict[int, str] = {}
    if listed:
        directory_name = func.coalesce(
            func.nullif(Organization.name_short, ""), Organization.name_full
        )
        names = {
            org: str(name)
            for org, name in session.execute(
                select(Organization.id, directory_name).where(
                    Organization.id.in_([org for org, _ in listed])
                )
            )
        }
    typed = _org_name().label("name")
    by_hand = session.execute(
        select(typed, count).where(AccessRequest.organization_id.is_(None), *where).group_by(typed)
    ).all()
    rows = [(names.get(int(org or 0), str(org)), int(n)) for org, n in listed]
    rows += [(str(name), int(n)) for name, n in by_hand]
    return sorted(rows, key=lambda row: (-row[1], row[0]))


def _figures(session: Session) -> Stats:
    """What the /stats message says: counts by status, role and organisation, time to
    decision."""
    count = func.count().label("n")
    by_status = dict(
        session.execute(select(AccessRequest.status, count).group_by(AccessRequest.status)).all()
    )
    # Grouped by the column itself, in the order of its index (no sorting in SQL); named and
    # ordered here, a handful of rows.
    roles = session.execute(select(AccessRequest.role, count).group_by(AccessRequest.role)).all()
    by_role = sorted(
        ((role if role is not None else NO_ROLE, int(n)) for role, n in roles),
        key=lambda row: (-row[1], row[0]),
    )
    median, p90 = _decision_hours(session)
    order = [s.value for s in Status]
    return Stats(
        by_status=sorted(by_status.items(), key=lambda kv: order.index(kv[0])),
        by_org=_by_organization(session)[:TOP],
        by_role=by_role,
        median_hours=median,
        p90_hours=p90,
    )


def _chart_data(session: Session, figures: Stats) -> Stats:
    """What the charts draw, added to `figures`: requests per day and status, organisations by
    approved users."""
    count = func.count().label("n")
    day = _local_day(session).label("day")
    per_day: dict[date, Counter[str]] = defaultdict(Counter)
    for when, status, n in session.execute(
        select(day, AccessRequest.status, count)
        .where(AccessRequest.submitted_at.is_not(None))
        .group_by(AccessRequest.status, day)
    ):
        per_day[when if isinstance(when, date) else date.fromisoformat(when)][status] += n
    approved = _by_organization(session, AccessRequest.status.in_(COVERED))
    rest = approved[CHART_TOP:]
    figures.per_day = dict(sorted(per_day.items()))
    figures.approved_by_org = approved[:CHART_TOP]
    figures.approved_others = (len(rest), sum(n for _, n in rest))
    return figures


async def figures(db: Database) -> Stats:
    """The figures of the message, without the charts' data (so the message need not wait)."""
    return await read_off_loop(db, _figures)


async def chart_data(db: Database, figures: Stats) -> Stats:
    return await read_off_loop(db, lambda session: _chart_data(session, figures))


async def collect(db: Database) -> Stats:
    """All of it: the figures and the charts' data."""
    return await read_off_loop(db, lambda session: _chart_data(session, _figures(session)))


def _uncovered(session: Session, region: str) -> tuple[int, list[Organization]]:
    # Medical organisations (items 2.1-2.2); the health department (item 3.1) is not one.
    in_region = (
        Organization.region == region,
        Organization.deleted.is_(False),
        Organization.is_department.is_(False),
    )
    total = session.scalar(select(func.count()).select_from(Organization).where(*in_region))
    covered = exists().where(
        AccessRequest.organization_id == Organization.id, AccessRequest.status.in_(COVERED)
    )
    missing = session.scalars(
        select(Organization).where(*in_region, ~covered).order_by(Organization.name_short)
    )
    return int(total or 0), list(missing)


async def uncovered(db: Database, region: str) -> tuple[int, list[Organization]]:
    """Directory organisations of the region with no approved or access-granted user yet."""
    return await read_off_loop(db, lambda session: _uncovered(session, region))
