"""The order's loose ends: the health department at the organisation step (item 3.1: chief
specialists), through the real dispatcher."""

from __future__ import annotations

from sqlalchemy import select

from bot import texts
from db.database import Database
from db.models import AccessRequest, Organization
from services import organizations, stats
from tests.support.dialog_steps import to_organization
from tests.support.harness import Harness
from tests.test_dialog_position import state_of

DEPARTMENT = "Департамент здравоохранения Костромской области"
CHIEF = "Главный внештатный онколог субъекта РФ"


async def test_a_chief_specialist_picks_the_health_department(
    harness: Harness, db: Database
) -> None:
    user = harness.user()
    greeting = (await user.send("/start"))[-1].plain
    assert f"выберите «{texts.BTN_DEPARTMENT}»" in greeting
    await to_organization(user)
    prompt = user.last
    assert texts.BTN_DEPARTMENT in prompt.buttons and texts.BTN_NOT_IN_LIST in prompt.buttons
    assert f"нажимают «{texts.BTN_DEPARTMENT}»" in prompt.plain
    sent = await user.press(texts.BTN_DEPARTMENT)
    assert any(DEPARTMENT in s.plain for s in sent)  # the answer echoed under the prompt
    assert await state_of(harness, user) == "Form:position"
    role = (await user.send(CHIEF))[-1]  # typed exactly: the matrix's one role is offered
    assert "Куратор 3 уровня" in role.plain
    await user.press("✅ Подтверждаю")
    assert await state_of(harness, user) == "Form:summary"
    summary = user.last.plain
    assert DEPARTMENT in summary and "вручную" not in summary.split(DEPARTMENT)[1][:20]
    await user.press("📨 Отправить")
    async with db.read() as session:
        request = await session.scalar(select(AccessRequest))
        assert request is not None
        department = await session.get(Organization, request.organization_id)
    assert department is not None and department.is_department
    assert request.org_manual is False
    assert request.org_full_name == request.org_short_name == DEPARTMENT
    assert harness.unanswered_callbacks() == []


async def test_the_department_is_found_by_its_words_and_made_once(
    harness: Harness, db: Database
) -> None:
    user = harness.user()
    await to_organization(user)
    found = (await user.send("департамент"))[-1]
    assert f"1. {DEPARTMENT}" in found.buttons[0]
    await user.press(found.buttons[0])
    assert await state_of(harness, user) == "Form:position"
    async with db.read() as session:
        rows = list(await session.scalars(select(Organization).where(Organization.is_department)))
    assert [r.name_full for r in rows] == [DEPARTMENT]
    # Not a medical organisation: the coverage of items 2.1-2.2 does not count it.
    _total, missing = await stats.uncovered(db, "Костромская область")
    assert DEPARTMENT not in [o.name_full for o in missing]


def test_the_department_is_named_after_the_region() -> None:
    assert organizations.department_name("Костромская область") == DEPARTMENT
    assert organizations.department_name("Пермский край") == (
        "Департамент здравоохранения Пермского края"
    )
    assert organizations.department_name("Республика Коми") == (
        "Департамент здравоохранения Республики Коми"
    )
    assert organizations.department_name("г. Москва") == "Департамент здравоохранения — г. Москва"
