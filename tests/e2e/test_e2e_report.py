"""End to end over HTTP: an applicant submits, an admin approves, a viewer's /report counts it
(and the viewer cannot decide)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from db.database import Database
from db.models import AccessRequest, StaffEvent, StaffMember
from tests.e2e.conftest import StartWithRequest
from tests.e2e.standin import BotApiStandin
from tests.e2e.support import ADMIN_CHAT, Person

VIEWER = 5560009


async def test_submit_approve_and_the_viewers_report_counts_it(
    standin: BotApiStandin, bot_with_request: StartWithRequest, db: Database
) -> None:
    async with db.write() as session:
        session.add(StaffMember(account_id=VIEWER, role="viewer", display_name="Главный онколог"))
    run = await bot_with_request()
    me, boss, mark = run.applicant, run.admin, run.mark
    viewer = Person(standin, VIEWER, "Главный онколог")
    viewer_in_group = Person(standin, VIEWER, "Главный онколог", chat_id=ADMIN_CHAT)

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
    code, output = await run.bot.stop()

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
