"""/find through its indexes, and the /stats charts as people see them (issues "Admin work at
100,000 requests" and "The export and the charts, as people see them")."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, update

from bot import charts, texts
from bot.charts import chart_labels
from db.database import Database
from db.models import AccessRequest
from services import consent, requests, stats
from services.requests import Status
from services.snils import check_number, format_snils
from tests.support.admin import admin
from tests.support.harness import Harness
from tests.test_requests_service import NEW

PREFIX = "Областное государственное бюджетное учреждение здравоохранения «Городская"


def person(n: int, **values: object) -> requests.NewRequest:
    digits = f"{600_000_000 + n:09d}"
    return replace(
        NEW,
        account_id=8000 + n,
        snils=format_snils(digits + f"{check_number(digits):02d}"),
        email=f"Person{n}@Example.ru",
        **values,  # type: ignore[arg-type]
    )


async def add(db: Database, new: requests.NewRequest, decision: Status | None = None) -> int:
    async with db.write() as session:
        result = await requests.submit(session, new)
        assert isinstance(result, requests.Submitted)
        if decision is not None:
            await requests.decide(session, result.request.id, decision, actor_id=1)
        return result.request.id


async def found(h: Harness, query: str) -> list[int]:
    sent = await admin(h).send(f"/find {query}")
    return [int(b.split()[1]) for b in sent[-1].buttons if b.startswith("№ ")]


async def test_find_by_snils_email_words_and_word_beginnings(h: Harness, db: Database) -> None:
    first = await add(db, person(1, full_name="Константинопольская Анна"))
    second = await add(db, person(2, full_name="Петров Пётр", org_full_name="Буйская ЦРБ"))
    snils = person(1).snils
    assert await found(h, snils) == [first]
    assert await found(h, snils.replace("-", "").replace(" ", "")) == [first]
    assert await found(h, "person2@example.RU") == [second]  # any case
    assert await found(h, "Константинопольская") == [first]
    assert await found(h, "констант") == [first]  # the beginning of a word
    assert await found(h, "петров буйская") == [second]
    assert await found(h, "петров константинопольская") == []
    assert await found(h, "больница") == [second, first]  # NEW's organisation, newest first


async def test_the_word_index_follows_changes_and_erasure(h: Harness, db: Database) -> None:
    request_id = await add(db, person(3, full_name="Сидорова Ольга"))
    async with db.write() as session:
        await requests.decide(
            session, request_id, Status.RETURNED, actor_id=1, reason="x", fields=["full_name"]
        )
    async with db.write() as session:
        await requests.resubmit(session, request_id, 8003, {"full_name": "Кузнецова Ольга"})
    assert await found(h, "кузнецова") == [request_id]
    assert await found(h, "сидорова") == []
    async with db.write() as session:
        await consent.withdraw(session, 8003)
    assert await found(h, "кузнецова") == []


async def test_queue_reads_the_oldest_first(h: Harness, db: Database) -> None:
    ids = [await add(db, person(10 + n)) for n in range(3)]
    now = datetime.now(UTC)
    async with db.write() as session:  # submitted in the opposite order of their numbers
        for offset, request_id in enumerate(ids):
            await session.execute(
                update(AccessRequest)
                .where(AccessRequest.id == request_id)
                .values(submitted_at=now - timedelta(hours=offset))
            )
    sent = await admin(h).send("/queue")
    assert [int(b.split()[1]) for b in sent[-1].buttons] == ids[::-1]


def test_labels_stay_distinct_for_names_sharing_a_long_prefix() -> None:
    names = [f"{PREFIX} поликлиника № {n} города Костромы»" for n in range(1, 26)]
    labels = chart_labels(names)
    assert len(set(labels)) == 25
    assert all(len(label) <= 45 for label in labels)
    assert labels[11] == "…поликлиника № 12 города Костромы»"
    # The same name twice (two organisations typed alike) still makes two labels.
    assert chart_labels(["ЦРБ", "ЦРБ", "ГБ"]) == ["ЦРБ (1)", "ЦРБ (2)", "ГБ"]


def test_days_become_weeks_and_months_over_a_long_campaign() -> None:
    start = date(2026, 8, 5)  # a Wednesday
    short = {start + timedelta(days=d): Counter(submitted=1) for d in range(0, 30, 2)}
    unit, periods = stats.group_periods(short)
    assert unit == "day" and len(periods) == 29  # the days in between too, empty
    assert periods[1] == (start + timedelta(days=1), Counter())

    months = {start + timedelta(days=d): Counter(approved=2) for d in range(120)}
    unit, periods = stats.group_periods(months)
    assert unit == "week"
    assert periods[0][0] == date(2026, 8, 3)  # the Monday of the first week
    assert all(p.weekday() == 0 for p, _ in periods)
    assert periods[0][1] == Counter(approved=10)  # Wednesday to Sunday
    assert sum(c["approved"] for _, c in periods) == 240
    assert len(periods) == 18

    year = {start + timedelta(days=d): Counter(rejected=1) for d in range(0, 500, 7)}
    unit, periods = stats.group_periods(year)
    assert unit == "month" and periods[0][0] == date(2026, 8, 1)
    assert periods[1][0] == date(2026, 9, 1) and sum(c["rejected"] for _, c in periods) == 72


async def test_stats_for_25_organisations_sharing_a_long_prefix(h: Harness, db: Database) -> None:
    for n in range(25):
        org = f"{PREFIX} поликлиника № {n + 1} города Костромы»"
        for k in range(n % 3 + 1):
            await add(
                db,
                person(100 + n * 3 + k, org_full_name=org, org_short_name=""),
                Status.APPROVED,
            )
    figures = await stats.collect(db)
    assert len(figures.approved_by_org) == stats.CHART_TOP
    assert figures.approved_others[0] == 5
    total = sum(n % 3 + 1 for n in range(25))
    assert sum(n for _, n in figures.approved_by_org) + figures.approved_others[1] == total
    assert len({name for name, _ in figures.approved_by_org}) == stats.CHART_TOP
    sent = await admin(h).send("/stats")
    assert any("Статистика заявок" in m.plain for m in sent)
    photos = [f for f in h.session.files if f.kind == "photo"]
    assert len(photos) == 2 and all(p.data.startswith(b"\x89PNG") for p in photos)


def test_charts_render_for_many_periods_and_organisations() -> None:
    per_day = {date(2026, 8, 1) + timedelta(days=d): Counter(submitted=d % 7) for d in range(140)}
    assert charts.requests_per_day(per_day).startswith(b"\x89PNG")
    rows = [(f"{PREFIX} поликлиника № {n} города Костромы»", 30 - n) for n in range(20)]
    png = charts.organizations_by_users(rows, (5, 12))
    assert png.startswith(b"\x89PNG") and texts.chart_others(5) == "остальные (5 орг.)"


async def test_queue_counts_and_pages_from_its_index_alone(h: Harness, db: Database) -> None:
    """/queue's count and page are read from `ix_access_requests_queue` without visiting the
    table (with the held-for-organisation flag in the index since migration 0015): at 100,000
    requests a visit per waiting request took /queue from 2 to 20 ms."""
    for n in range(3):
        await add(db, person(40 + n))
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM access_requests" in statement and statement.lstrip().startswith("SELECT"):
            statements.append((statement, params))

    engine = db.read_engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        sent = await admin(h).send("/queue")
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len([b for b in sent[-1].buttons if b.startswith("№ ")]) == 3
    assert len(statements) == 2  # the count and the page
    if not db.is_sqlite:
        pytest.skip(
            "PostgreSQL chooses its plan by cost: on a three-row table the choice says nothing "
            "(bench/admin.py measures /queue at 100,000 requests on PostgreSQL)"
        )
    plans = []
    async with db.read() as session:
        raw = await session.connection()
        for statement, params in statements:
            plan = await raw.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
            plans.append(" ".join(str(row[-1]) for row in plan))
    count, page = plans
    # The count never visits the table; the page is read in the index's order (no sort) and
    # visits the table only for the rows it shows.
    assert "COVERING INDEX ix_access_requests_queue" in count, count
    assert "ix_access_requests_queue" in page and "B-TREE" not in page, page
