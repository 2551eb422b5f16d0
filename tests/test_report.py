"""/report on a known data set; the viewer role (chief specialists, the department): the
figures and nothing else, every view an event."""

from __future__ import annotations

import html
import io
import re
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot import texts
from bot.report_render import chart, progress_of, text_of, workbook
from db.database import Database
from db.models import Organization, StaffEvent, StaffMember
from services import report
from services.staff import StaffRole
from tests.support.admin import ADMIN_CHAT, admin, request_row, submitted
from tests.support.harness import Harness, Sent
from tests.test_oversight import known_data

VIEWER_ID = 930001
RESPONSIBLE_ID = 930002
TODAY = date(2026, 12, 1)


async def add_staff(
    db: Database, user_id: int, role: StaffRole, organization_id: int | None = None
) -> None:
    """Viewers and responsible persons straight into the table (their invites are /staff's)."""
    async with db.write() as session:
        session.add(
            StaffMember(account_id=user_id, role=role.value, organization_id=organization_id)
        )


async def org_names(db: Database) -> dict[int, str]:
    """The medical organisations of the sample (the health department, made on import for
    chief specialists, item 3.1, is not one)."""
    async with db.read() as session:
        rows = await session.execute(
            select(Organization.id, Organization.name_short).where(
                Organization.region == "Костромская область",
                Organization.deleted.is_(False),
                Organization.is_department.is_(False),
            )
        )
    return {i: str(n) for i, n in rows}


async def test_the_report_on_a_known_data_set(db: Database, organizations: None) -> None:
    await known_data(db)  # orgs 1 (two approved), 2 (rejected), 3 (waiting), one typed by hand
    await add_staff(db, RESPONSIBLE_ID, StaffRole.RESPONSIBLE, organization_id=2)
    names = await org_names(db)
    figures = await report.collect(db, "Костромская область", TODAY, date(2026, 12, 11))
    assert dict(figures.by_status) == {"submitted": 1, "approved": 3, "rejected": 1}
    assert figures.total == 5
    # Decisions after 1, 2, 3 and 10 hours: the median is 2.5 h, the 90th percentile 10 h.
    assert figures.median_hours == 2.5
    assert figures.p90_hours == 10
    assert figures.organizations == len(names) == 11
    assert set(figures.no_responsible) == {n for i, n in names.items() if i != 2}
    # Org 2's only request was rejected: no request (services.org_confirmation.has_request).
    assert set(figures.no_request) == {n for i, n in names.items() if i not in (1, 3)}
    assert set(figures.no_approved) == {n for i, n in names.items() if i != 1}
    assert figures.covered == 1 and figures.days_left == 10
    text = text_of(figures)
    assert "медиана 2.5 ч, 90-й процентиль 10.0 ч" in text
    assert "Без ответственного лица (п. 2.1):</b> 10 из 11" in text
    assert "Без заявки (пп. 2.3, 3.1):</b> 9 из 11" in text
    assert "Без одобренного пользователя (пп. 2.3, 3.1):</b> 10 из 11" in text
    assert "1 из 11 (9%); до срока (11.12.2026) осталось 10 дней." in text and "дн.." not in text
    book = load_workbook(io.BytesIO(workbook(figures, progress_of(figures))))
    assert book.sheetnames == [
        texts.REPORT_SHEET_SUMMARY,
        texts.REPORT_SHEET_NO_RESPONSIBLE,
        texts.REPORT_SHEET_NO_REQUEST,
        texts.REPORT_SHEET_NO_APPROVED,
    ]
    summary = {r[0]: r[1] for r in book[texts.REPORT_SHEET_SUMMARY].iter_rows(values_only=True)}
    assert summary[texts.REPORT_MEDIAN] == 2.5 and summary[texts.REPORT_P90] == 10
    assert summary[texts.report_status_row("approved")] == 3
    listed = [r[0] for r in book[texts.REPORT_SHEET_NO_REQUEST].iter_rows(values_only=True)]
    assert listed[0] == texts.REPORT_COLUMN_ORG and len(listed) == 10
    assert chart(figures).startswith(b"\x89PNG")


def test_progress_after_the_deadline_says_requests_are_still_taken() -> None:
    text = texts.deadline_progress(date(2026, 11, 20), TODAY, 3, 13)
    assert "прошёл 11 дней назад" in text and "по-прежнему принимаются" in text
    assert "Срок (DEADLINE) не задан" in texts.deadline_progress(None, TODAY, 0, 0)


async def test_a_viewer_gets_the_report_stats_and_coverage_each_view_an_event(
    h: Harness, db: Database
) -> None:
    await submitted(h)
    await add_staff(db, VIEWER_ID, StaffRole.VIEWER)
    viewer = h.user(VIEWER_ID, "Главный онколог")
    sent = await viewer.send("/report")
    assert texts.REPORT_TITLE in sent[0].plain and "на рассмотрении: 1" in sent[0].plain
    mine = [f for f in h.session.files if f.chat_id == VIEWER_ID]
    assert [f.kind for f in mine] == ["photo", "document"]
    assert mine[0].data.startswith(b"\x89PNG") and mine[1].filename.endswith(".xlsx")
    assert "Статистика заявок" in (await viewer.send("/stats"))[0].plain
    assert "Организации без одобренных" in (await viewer.send("/coverage"))[0].plain
    async with db.read() as session:
        rows = await session.execute(
            select(StaffEvent.actor_id, StaffEvent.action).order_by(StaffEvent.id)
        )
        seen = [(a, b) for a, b in rows if b.startswith("viewed_")]
    assert seen == [
        (VIEWER_ID, report.VIEWED_REPORT),
        (VIEWER_ID, report.VIEWED_STATS),
        (VIEWER_ID, report.VIEWED_COVERAGE),
    ]
    # The admins keep theirs.
    assert texts.REPORT_TITLE in (await admin(h).send("/report"))[0].plain


async def test_the_report_is_refused_to_operators_responsible_persons_and_strangers(
    h: Harness, db: Database
) -> None:
    await add_staff(db, 930003, StaffRole.OPERATOR)
    await add_staff(db, RESPONSIBLE_ID, StaffRole.RESPONSIBLE, organization_id=1)
    for user_id in (930003, RESPONSIBLE_ID, 930004):
        for command in ("/report", "/stats", "/coverage"):
            sent = await h.user(user_id).send(command)
            assert [s.plain for s in sent] == [texts.NO_ACCESS], (user_id, command)
    assert h.session.files == []


VIEWER_REFUSED = (
    "/export",
    "/export all",
    "/granted 1",
    "/queue",
    "/find иванова",
    "/req 1",
    "/history 1",
    "/staff",
    "/health",
    "/broadcast",
    "/broadcast status",
)


@pytest.mark.parametrize("command", VIEWER_REFUSED)
async def test_a_viewer_is_refused_every_other_staff_command(
    h: Harness, db: Database, command: str
) -> None:
    await submitted(h)
    await add_staff(db, VIEWER_ID, StaffRole.VIEWER)
    for viewer in (h.user(VIEWER_ID), h.member(VIEWER_ID, ADMIN_CHAT, "Главный онколог")):
        sent = await viewer.send(command)
        assert [s.plain for s in sent] == [texts.NO_ACCESS], command
    assert h.session.files == []


async def test_a_viewer_presses_no_decision_button_and_sees_no_snils_or_email(
    h: Harness, db: Database
) -> None:
    await submitted(h)
    await add_staff(db, VIEWER_ID, StaffRole.VIEWER)
    boss = admin(h)
    card = boss.last
    viewer = h.member(VIEWER_ID, ADMIN_CHAT, "Главный онколог")
    pressed: list[str] = []
    for row in (card.markup or {}).get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data:
                replay = Sent(ADMIN_CHAT, card.message_id, card.html, card.plain, [], card.markup)
                assert await viewer.press_data(replay, data) == []
                assert viewer.last_answer_text() == texts.NO_ACCESS
                pressed.append(data)
    assert len(pressed) >= 3  # approve, reject, return, change role
    assert (await request_row(db)).status == "submitted"
    assert h.unanswered_callbacks() == []
    private = h.user(VIEWER_ID)
    seen = [await private.send(c) for c in ("/report", "/stats", "/coverage")]
    everything = "\n".join(s.plain for batch in seen for s in batch)
    everything += "".join(f.data.decode("latin-1") for f in h.session.files)
    for secret in ("112-233-445 95", "11223344595", "@example", "Иванова"):
        assert secret not in everything


async def test_an_empty_database_makes_a_report_too(db: Database) -> None:
    figures = await report.collect(db, "Костромская область", TODAY, None)
    assert figures.total == 0 and figures.median_hours is None and figures.organizations == 0
    text = text_of(figures)
    assert "медиана —" in text and "Справочник организаций пуст" in text
    assert chart(figures).startswith(b"\x89PNG")
    assert load_workbook(io.BytesIO(workbook(figures, progress_of(figures)))).sheetnames


def test_the_report_fits_one_message_whatever_the_names() -> None:
    # Directory names of 80–300 characters (an empty short name falls back to the full one):
    # three lists of 15 would pass Telegram's 4096, and the report would never arrive.
    names = [
        f"ОГБУЗ «Областная клиническая больница», подразделение № {i:02d} " * 4 for i in range(80)
    ]
    figures = report.Report(
        today=date(2026, 12, 1),
        deadline=date(2026, 12, 31),
        by_status=[("submitted", 3), ("approved", 2)],
        median_hours=1.0,
        p90_hours=2.0,
        organizations=80,
        no_responsible=names,
        no_request=names,
        no_approved=names,
    )
    plain = html.unescape(re.sub(r"<[^>]+>", "", text_of(figures)))
    assert len(plain.encode("utf-16-le")) // 2 <= 4096
    assert "подразделение № 00" in plain  # still names some of each list
    assert "полный список в файле" in plain
