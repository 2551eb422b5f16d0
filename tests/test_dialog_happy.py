from __future__ import annotations

from sqlalchemy import select

from db.database import Database
from db.models import AccessRequest, Consent, RequestEvent
from tests.support.dialog_steps import POSITION, to_summary
from tests.support.harness import Harness
from tests.test_dialog_validation import key


async def test_happy_path_submits_one_request(harness: Harness, db: Database) -> None:
    user = harness.user()
    await to_summary(user)
    summary = user.last.plain
    assert "Проверьте заявку" in summary
    assert "112-233-445 95" in summary
    assert "Иванова Мария Петровна" in summary
    assert "ivanova@example.ru" in summary
    assert "Костромская область" in summary
    assert "Куратор 2 уровня — Муниципальное образование РФ" in summary
    assert "ВИМИС ОНКО" in summary

    sent = await user.press("📨 Отправить")
    assert "отправлена" in sent[-1].plain
    assert await harness.dp.storage.get_state(key(user)) is None

    async with db.read() as session:
        rows = (await session.scalars(select(AccessRequest))).all()
        events = (await session.scalars(select(RequestEvent))).all()
        consents = (await session.scalars(select(Consent))).all()
    assert len(rows) == 1
    request = rows[0]
    assert f"№ {request.id}" in sent[-1].plain
    assert request.status == "submitted"
    assert request.snils == "112-233-445 95"
    assert request.full_name == "Иванова Мария Петровна"
    assert request.email == "ivanova@example.ru"
    assert request.org_short_name == "ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»"
    assert request.org_manual is False
    assert request.position == POSITION
    assert request.role == "Куратор 2 уровня"
    assert request.role_level == "Муниципальное образование РФ"
    assert request.component == "ВИМИС ОНКО"
    assert request.consent_id == consents[0].id and consents[0].accepted
    changes = [e for e in events if e.action != "viewed"]  # the card posted: its view
    assert [(e.action, e.to_status) for e in changes] == [("created", "submitted")]
    assert harness.session.refusals == []
    assert harness.unanswered_callbacks() == []
