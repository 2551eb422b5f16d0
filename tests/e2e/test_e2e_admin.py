"""End to end with two admins in a group: return → fix → resubmit → two approvals at once."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from db.database import Database
from db.models import AccessRequest, RequestEvent
from services.typed_text import clean_text
from tests.e2e.conftest import StartWithRequest
from tests.e2e.standin import BotApiStandin
from tests.e2e.support import ADMIN_CHAT, Person

ADMIN_A, ADMIN_B = 900001, 900002
OLGA = "‹Оля & Ко>"
PETR = '<i>Пётр</i> & "Ко" 👩\u200d⚕️'
# Names as the bot keeps them: invisible characters (the ZWJ in Пётр's emoji) are cleaned where
# text comes in, so whichever admin wins is named without them.
NAMES_SEEN = (clean_text(OLGA), clean_text(PETR))


async def test_two_admins_in_a_group(
    standin: BotApiStandin, bot_with_request: StartWithRequest, db: Database
) -> None:
    # Hostile Telegram names: the card's decision line and the loser's alert name them.
    run = await bot_with_request(admins=(ADMIN_A, ADMIN_B), admin_name=OLGA)
    me, olga = run.applicant, run.admin
    petr = Person(standin, ADMIN_B, PETR, chat_id=ADMIN_CHAT)
    assert run.card is not None and "006-012-788 00" in (run.card.text or "")
    await olga.presses("↩️ Вернуть на доработку", "Заявка № 1")
    await olga.presses("▫️ Эл. почта", "Заявка № 1")
    prompt = await olga.presses("Далее ➡️", "Напишите комментарий")
    mark = len(standin.sent)
    standin.push_message(
        ADMIN_A,
        "Нужна личная почта",
        first_name=OLGA,
        chat_id=ADMIN_CHAT,
        reply_to_message_id=prompt.message_id,
    )
    await me.expect(mark, "возвращена на доработку")

    await me.presses("✏️ Исправить заявку № 1", "адрес электронной почты")
    await me.says("o.smirnov@example.ru", "Проверьте заявку")
    mark = len(standin.sent)
    me.press("📨 Отправить")
    card = await olga.expect(mark, "Исправлено после доработки")
    assert "oleg@example.ru → o.smirnov@example.ru" in (card.text or "")

    mark = len(standin.sent)
    olga.press("✅ Одобрить")
    petr.press("✅ Одобрить")
    await me.expect(mark, "одобрена")
    async with asyncio.timeout(10):  # the loser's press is answered too
        while standin.unanswered_callbacks():  # noqa: ASYNC110 - another process acts
            await asyncio.sleep(0.05)
    code, output = await run.bot.stop()

    assert code == 0, output
    # set at start-up, after the default commands (checked here: by now it has happened)
    scopes = {
        scope: [c["command"] for c in commands]
        for (scope, _lang), commands in standin.commands.items()
    }
    admin_scopes = [cmds for scope, cmds in scopes.items() if str(ADMIN_CHAT) in scope]
    assert admin_scopes and "queue" in admin_scopes[0] and "export" in admin_scopes[0]
    assert standin.errors == [], [e.description for e in standin.errors]
    answers = [c.answer.get("text") for c in standin.callbacks.values() if c.answer]
    lost = [a for a in answers if a and a.startswith("Решение уже принято")]
    assert len(lost) == 1
    # the winner's name as spelled, no HTML entities
    assert any(name in lost[0] for name in NAMES_SEEN), lost[0]
    async with db.read() as session:
        request = await session.get(AccessRequest, 1)
        approvals = await session.scalar(
            select(func.count()).select_from(RequestEvent).where(RequestEvent.action == "approved")
        )
    assert request is not None and request.status == "approved"
    assert request.email == "o.smirnov@example.ru"
    assert approvals == 1
    cards = [r for r in standin.sent if r.chat_id == ADMIN_CHAT and "Заявка № 1" in (r.text or "")]
    assert "✅ Одобрена" in (cards[-1].text or "") and cards[-1].buttons == []
    assert any(name in (cards[-1].text or "") for name in NAMES_SEEN)
