"""End to end over HTTP: an applicant submits, an admin approves, a viewer's /report counts it
(and the viewer cannot decide)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from db.database import Database
from db.models import AccessRequest, StaffEvent, StaffMember
from services.organizations import import_rows, read_rows
from tests.conftest import SAMPLE_ORGS
from tests.e2e.standin import BotApiStandin
from tests.e2e.support import BotProcess, Person

APPLICANT = 5560001
ADMIN = 900001
VIEWER = 5560009
ADMIN_CHAT = -1007770009


async def test_submit_approve_and_the_viewers_report_counts_it(
    standin: BotApiStandin, bot_env: dict[str, str], db: Database
) -> None:
    async with db.write() as session:
        await import_rows(session, read_rows(SAMPLE_ORGS), "Костромская область")
        session.add(StaffMember(account_id=VIEWER, role="viewer", display_name="Главный онколог"))
    bot_env.update(ADMIN_IDS=str(ADMIN), ADMIN_CHAT_ID=str(ADMIN_CHAT))
    bot = BotProcess(bot_env)
    await bot.start(standin)
    try:
        me = Person(standin, APPLICANT)
        boss = Person(standin, ADMIN, "Ольга", chat_id=ADMIN_CHAT)
        viewer = Person(standin, VIEWER, "Главный онколог")
        viewer_in_group = Person(standin, VIEWER, "Главный онколог", chat_id=ADMIN_CHAT)

        await me.says("/new", "Согласие на обработку")
        await me.presses("✅ Согласен(на)", "подтверждённая")
        await me.presses("Да", "Вход на портал ЕГИСЗ через Госуслуги")
        await me.presses("✅ Готово", "СНИЛС")
        await me.says("006-012-788 00", "фамилию, имя и отчество")
        await me.says("Смирнов Олег", "электронной почты")
        await me.says("oleg@example.ru", "Субъект РФ")
        await me.presses("✅ Да, верно", "медицинскую организацию")
        await me.says("онкодиспансер", "найдено: 1")
        await me.presses("1. ОБРАЗЕЦ ОГБУЗ «Условный онкодиспансер №1»", "должность")
        await me.presses("1. Сотрудник организационно-методического", "Подтвердите роль")
        await me.presses("✅ Подтверждаю", "Проверьте заявку")
        mark = len(standin.sent)
        me.press("📨 Отправить")
        await boss.expect(mark, "Заявка № 1")

        # The viewer, a member of the admin group, presses «Одобрить» on the card: refused.
        await viewer_in_group.sees_button(mark, "✅ Одобрить")
        viewer_in_group.press("✅ Одобрить")
        async with asyncio.timeout(10):
            while standin.unanswered_callbacks():  # noqa: ASYNC110 - another process acts
                await asyncio.sleep(0.05)
        async with db.read() as session:
            assert (await session.get(AccessRequest, 1)).status == "submitted"  # type: ignore[union-attr]

        mark = len(standin.sent)
        boss.press("✅ Одобрить")
        await me.expect(mark, "одобрена")

        mark = len(standin.sent)
        report = await viewer.says("/report", "Отчёт о подключении")
        assert "одобрена: 1" in (report.text or "")
        assert "Без одобренного пользователя (пп. 2.3, 3.1): 10 из 11" in (report.text or "")
        assert "006-012-788" not in (report.text or "") and "oleg@" not in (report.text or "")

        def files_sent() -> bool:
            methods = {r.method for r in standin.sent[mark:] if r.chat_id == VIEWER}
            return {"sendPhoto", "sendDocument"} <= methods

        async with asyncio.timeout(15):
            while not files_sent():  # noqa: ASYNC110 - another process acts
                await asyncio.sleep(0.05)
    finally:
        code, output = await bot.stop()

    assert code == 0, output
    # The viewer's menu, set at start-up: the figures, nothing to decide with.
    viewer_menu = [
        [c["command"] for c in commands]
        for (scope, _lang), commands in standin.commands.items()
        if str(VIEWER) in scope
    ]
    assert viewer_menu and {"stats", "coverage", "report"} <= set(viewer_menu[0])
    assert "queue" not in viewer_menu[0] and "export" not in viewer_menu[0]
    assert standin.errors == [], [e.description for e in standin.errors]
    answers = [c.answer.get("text") for c in standin.callbacks.values() if c.answer]
    assert "Нет доступа" in answers
    media = [r for r in standin.sent if r.chat_id == VIEWER and r.file is not None]
    assert [r.method for r in media] == ["sendPhoto", "sendDocument"]
    async with db.read() as session:
        viewed = list(
            await session.scalars(select(StaffEvent.action).where(StaffEvent.actor_id == VIEWER))
        )
    assert viewed == ["viewed_report"]
