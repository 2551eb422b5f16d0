"""Days, weeks or months for a chart over a campaign (no database, no matplotlib: the chart
process imports it)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta

# The per-day chart groups by week beyond this many days, by month beyond `MONTHS_AFTER`.
WEEKS_AFTER = 42
MONTHS_AFTER = 365


def group_periods(per_day: dict[date, Counter[str]]) -> tuple[str, list[tuple[date, Counter[str]]]]:
    """Days, weeks (from Monday) or months, whichever keeps a chart legible, with empty
    periods filled in: ("day" | "week" | "month", [(first day of the period, counts)])."""
    if not per_day:
        return "day", []
    first, last = min(per_day), max(per_day)
    span = (last - first).days + 1
    unit = "day" if span <= WEEKS_AFTER else "week" if span <= MONTHS_AFTER else "month"

    def start(day: date) -> date:
        if unit == "week":
            return day - timedelta(days=day.weekday())
        if unit == "month":
            return day.replace(day=1)
        return day

    grouped: dict[date, Counter[str]] = defaultdict(Counter)
    for day, counts in per_day.items():
        grouped[start(day)].update(counts)
    periods, current = [], start(first)
    while current <= last:
        periods.append((current, grouped.get(current, Counter())))
        if unit == "day":
            current += timedelta(days=1)
        elif unit == "week":
            current += timedelta(weeks=1)
        else:
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
    return unit, periods
