"""End to end over HTTP, ORG_CONFIRMATION=required: an applicant submits → the admins see
nothing yet → the organisation's responsible person confirms → the card reaches the admin
group saying so → the admin approves → a viewer's /report counts it."""

from __future__ import annotations

from db.database import Database
from db.models import AccessRequest
from services import staff
from services.organizations import import_rows, read_rows
from services.staff import StaffRole
from tests.conftest import SAMPLE_ORGS
from tests.e2e.standin import BotApiStandin
from tests.e2e.support import BotProcess, Person
from tests.support.org import ORG_A, org_id

APPLICANT = 5550003
RESPONSIBLE = 5550004
VIEWER = 5550005
ADMIN = 900001
ADMIN_CHAT = -1007770002


async def test_confirmed_by_the_organisation_then_approved(
    standin: BotApiStandin, bot_env: dict[str, str], db: Database
) -> None:
    async with db.write() as session:
        await import_rows(session, read_rows(SAMPLE_ORGS), "Костромская область")
    organization = await org_id(db, ORG_A)
    async with db.write() as session:
        await staff.add(
            session, None, RESPONSIBLE, StaffRole.RESPONSIBLE, organization_id=organization
        )
        await staff.add(session, None, VIEWER, StaffRole.VIEWER)
    bot_env.update(ADMIN_IDS=str(ADMIN), ADMIN_CHAT_ID=str(ADMIN_CHAT), ORG_CONFIRMATION="required")
    bot = BotProcess(bot_env)
    await bot.start(standin)
    try:
        me = Person(standin, APPLICANT)
        head = Person(standin, RESPONSIBLE, "Главврач")
        olga = Person(standin, ADMIN, "Ольга", chat_id=ADMIN_CHAT)
        await me.says("/new", "Согласие на обработку")
        await me.presses("✅ Согласен(на)", "подтверждённая")
        await me.presses("Да", "Вход на портал ЕГИСЗ через Госуслуги")
        await me.presses("✅ Готово", "СНИЛС")
        await me.says("006-012-788 00", "фамилию, имя и отчество")
        await me.says("Смирнов Олег", "электронной почты")
        await me.says("oleg@example.ru", "Субъект РФ")
        await me.presses("✅ Да, верно", "медицинскую организацию")
        await me.says("ЦРБ А", "найдено")
        await me.presses(f"1. {ORG_A}", "должность")
        await me.presses("3. Главный врач", "Куратор")
        await me.presses("Куратор 2 уровня", "Проверьте заявку")
        mark = len(standin.sent)
        me.press("📨 Отправить")
        asked = await head.expect(mark, "Новая заявка сотрудника вашей организации")
        text = asked.text or ""
        assert "***-***-788 00" in text and "006-012-788" not in text and "oleg@" not in text
        await me.expect(mark, "Заявка № 1")
        assert not [r for r in standin.sent[mark:] if r.chat_id == ADMIN_CHAT]  # held

        mark = len(standin.sent)
        head.press("✅ Подтверждаю")
        card = await olga.expect(mark, "Заявка № 1")
        assert "подтверждена организацией" in (card.text or "")
        assert "006-012-788 00" in (card.text or "")  # the admins see it in full
        mark = len(standin.sent)
        olga.press("✅ Одобрить")
        await me.expect(mark, "одобрена")

        mark = len(standin.sent)
        report = await Person(standin, VIEWER, "Главный онколог").says("/report", "Отчёт")
        text = report.text or ""
        assert "одобрена: 1" in text
        assert "006-012-788" not in text and "oleg@" not in text
    finally:
        code, output = await bot.stop()
    assert code == 0, output
    assert standin.errors == [], [e.description for e in standin.errors]
    async with db.read() as session:
        request = await session.get(AccessRequest, 1)
    assert request is not None
    assert (request.status, request.org_confirmation, request.org_answered_by) == (
        "approved",
        "confirmed",
        RESPONSIBLE,
    )
