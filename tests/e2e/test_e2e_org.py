"""End to end over HTTP, ORG_CONFIRMATION=required: an applicant submits → the admins see
nothing yet → the organisation's responsible person confirms → the card reaches the admin
group saying so → the admin approves → a viewer's /report counts it."""

from __future__ import annotations

from db.database import Database
from db.models import AccessRequest
from services import staff
from services.staff import StaffRole
from tests.e2e.conftest import StartWithRequest
from tests.e2e.standin import BotApiStandin
from tests.e2e.support import ADMIN_CHAT, Form, Person
from tests.support.org import ORG_A, org_id

RESPONSIBLE = 5550004
VIEWER = 5550005
# The organisation of the sample directory with a responsible person, a post that needs a level.
FORM = Form(
    search="ЦРБ А",
    found="найдено",
    organization=f"1. {ORG_A}",
    post="3. Главный врач",
    after_post="Куратор",
    role="Куратор 2 уровня",
)


async def test_confirmed_by_the_organisation_then_approved(
    standin: BotApiStandin, bot_with_request: StartWithRequest, db: Database
) -> None:
    organization = await org_id(db, ORG_A)
    async with db.write() as session:
        await staff.add(
            session, None, RESPONSIBLE, StaffRole.RESPONSIBLE, organization_id=organization
        )
        await staff.add(session, None, VIEWER, StaffRole.VIEWER)
    head = Person(standin, RESPONSIBLE, "Главврач")
    run = await bot_with_request(form=FORM, card=False, ORG_CONFIRMATION="required")
    me, olga, mark = run.applicant, run.admin, run.mark
    asked = await head.expect(mark, "Новая заявка сотрудника вашей организации")
    text = asked.text or ""
    assert "***-***-788 00" in text and "006-012-788" not in text and "oleg@" not in text
    assert "Заявка № 1" in (run.submitted.text or "")
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
    code, output = await run.bot.stop()
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
