"""End to end: the real `python -m bot` process over HTTP against the Bot API stand-in."""

from __future__ import annotations

from sqlalchemy import select

from db.database import Database
from db.models import AccessRequest
from tests.e2e.standin import BotApiStandin
from tests.e2e.support import BotProcess, Person

USER = 5550001


async def test_applicant_from_start_to_a_submitted_request_then_withdrawn(
    standin: BotApiStandin, bot_env: dict[str, str], db: Database
) -> None:
    bot = BotProcess(bot_env)
    await bot.start(standin)
    try:
        commands = next(iter(standin.commands.values()))
        assert {c["command"] for c in commands} == {
            "start",
            "new",
            "my",
            "help",
            "cancel",
            "withdraw",
            "mydata",
        }

        me = Person(standin, USER)
        hello = await me.says("/start", "ВИМИС ОНКО")
        assert "до 20.12.2026" in (hello.text or "")
        await me.presses("📝 Подать заявку", "Согласие на обработку персональных данных")
        await me.presses("✅ Согласен(на)", "подтверждённая")
        esia = await me.presses("Да", "Вход на портал ЕГИСЗ через Госуслуги")
        assert any(
            b.get("url") == "https://ia.egisz.rosminzdrav.ru/"
            for row in (esia.reply_markup or {}).get("inline_keyboard", [])
            for b in row
        )
        await me.presses("✅ Готово", "СНИЛС")
        await me.says("112-233-445 96", "Контрольное число")
        await me.says("112 233 445 95", "фамилию, имя и отчество")
        await me.says("иванова мария петровна", "электронной почты")
        await me.says("ivanova@example.ru", "Субъект РФ")
        await me.presses("✅ Да, верно", "медицинскую организацию")
        await me.says("Клиника", "ничего не нашлось")
        await me.presses("Нет в списке", "полное наименование")
        await me.says("ООО «Клиника <Здоровье> & Ко»", "краткое наименование")
        await me.says("<Клиника & Ко>", "должность")
        await me.presses("Моей должности нет в списке", "Напишите вашу должность")
        summary = await me.says("Врач-онколог & <заведующий>", "Проверьте заявку")
        assert "ООО «Клиника <Здоровье> & Ко» (<Клиника & Ко>)" in (summary.text or "")
        assert "Врач-онколог & <заведующий>" in (summary.text or "")
        done = await me.presses("📨 Отправить", "отправлена")
        await me.says("/my", "на рассмотрении")
        # Then the person changes their mind: consent withdrawn, the data destroyed.
        await me.says("/withdraw", "Отзыв согласия")
        gone = await me.presses("Да, отозвать и удалить", "Согласие на обработку")
    finally:
        code, output = await bot.stop()

    assert code == 0, output
    assert "Start polling" in output  # the log was captured, so the checks below mean something
    assert standin.errors == [], [e.description for e in standin.errors]
    assert standin.unanswered_callbacks() == []
    for secret in ("112-233-445 95", "11223344595", "ivanova@example.ru", "Иванова", "иванова"):
        assert secret not in output, f"personal data in the log: {secret}"

    async with db.read() as session:
        request = (await session.scalars(select(AccessRequest))).one()
    assert f"№ {request.id}" in (done.text or "")
    assert f"Отменены заявки: № {request.id}" in (gone.text or "")
    assert request.status == "cancelled" and request.erased_at is not None
    assert (request.snils, request.full_name, request.email, request.account_id) == ("", "", "", 0)
    assert request.org_full_name == "ООО «Клиника <Здоровье> & Ко»"
    assert request.org_short_name == "<Клиника & Ко>"
    assert request.org_manual and not request.position_in_matrix and request.role is None
