"""/stats on a known data set, /coverage of the directory."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook
from sqlalchemy import update

from bot import texts
from db.database import Database
from db.models import AccessRequest, Organization
from services import stats
from services.requests import NewRequest, Status, decide, submit
from services.snils import check_number, format_snils
from tests.support.admin import admin
from tests.support.harness import Harness

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def new(n: int, org_id: int | None, role: str = "Куратор 1 уровня") -> NewRequest:
    digits = f"{400_000_000 + n:09d}"
    return NewRequest(
        account_id=7000 + n,
        snils=format_snils(digits + f"{check_number(digits):02d}"),
        full_name=f"Тестов Тест {n}",
        email=f"t{n}@example.ru",
        region="Костромская область",
        organization_id=org_id,
        org_full_name=f"Организация {org_id}",
        org_short_name=f"Орг {org_id}",
        org_manual=org_id is None,
        position="Врач",
        position_in_matrix=True,
        role=role,
        role_level="Медицинская организация РФ",
        component="ВИМИС ОНКО",
    )


async def known_data(db: Database) -> None:
    """Four decided requests after 1, 2, 3 and 10 hours, and one still waiting."""
    plan = [
        (1, 1, Status.APPROVED),
        (2, 1, Status.APPROVED),
        (3, 2, Status.REJECTED),
        (4, None, Status.APPROVED),
        (5, 3, None),
    ]
    hours = {1: 1, 2: 2, 3: 3, 4: 10}
    async with db.write() as session:
        for n, org, decision in plan:
            result = await submit(session, new(n, org))
            request_id = result.request.id  # type: ignore[union-attr]
            if decision is not None:
                await decide(session, request_id, decision, actor_id=1, reason="x")
            await session.execute(
                update(AccessRequest)
                .where(AccessRequest.id == request_id)
                .values(
                    submitted_at=T0 + timedelta(days=n % 2),
                    decided_at=(T0 + timedelta(days=n % 2, hours=hours[n])) if decision else None,
                )
            )


async def test_figures_on_a_known_data_set(db: Database, organizations: None) -> None:
    await known_data(db)
    figures = await stats.collect(db)
    assert dict(figures.by_status) == {"submitted": 1, "approved": 3, "rejected": 1}
    assert figures.median_hours == 2.5
    assert figures.p90_hours == 10
    assert dict(figures.by_role) == {"Куратор 1 уровня": 5}
    # A directory organisation is named as in the directory; one typed by hand, as typed.
    async with db.read() as session:
        first = await session.get(Organization, 1)
    assert first is not None
    assert figures.approved_by_org == [(first.name_short, 2), ("Орг None", 1)]
    assert sum(sum(c.values()) for c in figures.per_day.values()) == 5
    assert len(figures.per_day) == 2


async def test_stats_command_sends_figures_and_two_charts(h: Harness, db: Database) -> None:
    await known_data(db)
    sent = await admin(h).send("/stats")
    text = next(s.plain for s in sent if "Статистика заявок" in s.plain)
    assert "одобрена: 3" in text and "на рассмотрении: 1" in text
    assert "медиана 2.5 ч, 90-й процентиль 10.0 ч" in text
    photos = [f for f in h.session.files if f.kind == "photo"]
    assert len(photos) == 2
    assert all(p.data.startswith(b"\x89PNG\r\n\x1a\n") and len(p.data) > 5000 for p in photos)


async def test_stats_on_an_empty_database(h: Harness) -> None:
    sent = await admin(h).send("/stats")
    assert "решений ещё нет" in sent[-1].plain
    assert [f for f in h.session.files if f.kind == "photo"] == []


async def test_coverage_lists_organizations_without_approved_users(
    h: Harness, db: Database
) -> None:
    total, before = await stats.uncovered(db, "Костромская область")
    assert total == 11 and len(before) == 11
    covered_id = before[0].id
    async with db.write() as session:
        result = await submit(session, new(1, covered_id))
        await decide(session, result.request.id, Status.APPROVED, actor_id=1)  # type: ignore[union-attr]
        other = await submit(session, new(2, before[1].id))
        await decide(session, other.request.id, Status.REJECTED, actor_id=1)  # type: ignore[union-attr]
    sent = await admin(h).send("/coverage")
    # The figures' message (the signed forms of item 2.3 follow it for admins).
    coverage = next(s for s in sent if "без одобренных пользователей" in s.html)
    assert "без одобренных пользователей:</b> 10 из 11" in coverage.html
    assert before[0].name_short not in coverage.plain
    assert before[1].name_short in coverage.plain  # only a rejected request there
    sheet = load_workbook(io.BytesIO(h.session.files[-1].data)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == texts.COVERAGE_COLUMNS and len(rows) == 11


async def test_a_resubmitted_request_waits_again_and_is_not_timed(db: Database) -> None:
    from services.requests import resubmit

    async with db.write() as session:
        result = await submit(session, new(1, None))
        request_id = result.request.id  # type: ignore[union-attr]
        await decide(
            session, request_id, Status.RETURNED, actor_id=1, reason="x", fields=["full_name"]
        )
    async with db.write() as session:
        await resubmit(session, request_id, 7001, {"full_name": "Тестов Тест Тестович"})
    figures = await stats.collect(db)
    assert figures.median_hours is None and figures.p90_hours is None


async def test_time_to_decision_follows_new_decisions_and_returns(
    db: Database, organizations: None
) -> None:
    """The time to decision is kept between /stats and computed again once a request is
    decided or leaves the decided statuses."""
    await known_data(db)
    assert (await stats.figures(db)).median_hours == 2.5
    async with db.write() as session:  # request 5, waiting, is decided after 7 hours
        await decide(session, 5, Status.APPROVED, actor_id=1)
        await session.execute(
            update(AccessRequest)
            .where(AccessRequest.id == 5)
            .values(decided_at=T0 + timedelta(days=1, hours=7))
        )
    figures = await stats.figures(db)
    assert (figures.median_hours, figures.p90_hours) == (3, 10)
    async with db.write() as session:  # request 4 (10 hours) is no longer decided
        await session.execute(
            update(AccessRequest).where(AccessRequest.id == 4).values(status="submitted")
        )
    figures = await stats.figures(db)
    assert (figures.median_hours, figures.p90_hours) == (2.5, 7)
