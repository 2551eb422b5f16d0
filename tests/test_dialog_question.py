"""«Не получается» → a question to МИАЦ tagged with the step; the dialog continues after it."""

from __future__ import annotations

from aiogram.methods import CopyMessage, SendMessage

from bot import texts
from tests.conftest import SUPPORT_CHAT_ID
from tests.harness import Harness
from tests.test_dialog_validation import state_of


async def test_question_from_the_esia_step_keeps_the_dialog(harness: Harness) -> None:
    user = harness.user()
    await user.send("/start")
    await user.press("📝 Подать заявку")
    await user.press("✅ Согласен(на)")
    await user.press("Да")
    await user.press("😕 Не получается")
    sent = await user.press(texts.BTN_ASK)
    assert sent[-1].plain == texts.ASK_PROMPT
    sent = await user.send("Портал не открывается, что делать?")
    assert texts.ASK_SENT in sent[-1].plain

    to_support = [
        c
        for c in harness.session.calls
        if isinstance(c, SendMessage | CopyMessage) and c.chat_id == SUPPORT_CHAT_ID
    ]
    header, copy = to_support
    assert isinstance(header, SendMessage) and "первый вход в ЕСИА" in header.text
    assert isinstance(copy, CopyMessage) and copy.from_chat_id == user.id

    assert await state_of(harness, user) == "Form:esia"
    sent = await user.press("▶️ Продолжить")
    assert "Первый вход в ЕСИА" in sent[-1].plain
    await user.press("✅ Готово")
    assert await state_of(harness, user) == "Form:snils"


async def test_help_command_mid_dialog_and_cancel_returns(harness: Harness) -> None:
    user = harness.user()
    await user.send("/start")
    await user.press("📝 Подать заявку")
    await user.press("✅ Согласен(на)")
    await user.send("/help")
    assert await state_of(harness, user) == "QuestionFlow:waiting"
    sent = await user.press(texts.BTN_CANCEL)
    assert await state_of(harness, user) == "Form:gosuslugi"
    assert "подтверждённая" in sent[-1].plain


async def test_every_step_offers_a_question_tagged_with_it(harness: Harness) -> None:
    from aiogram.methods import SendMessage

    user = harness.user()
    await user.send("/start")
    await user.press("📝 Подать заявку")
    await user.press("✅ Согласен(на)")
    await user.press("Да")
    await user.press("✅ Готово")
    await user.send("11223344595")
    assert texts.BTN_STEP_HELP in user.last.buttons
    await user.press(texts.BTN_STEP_HELP)
    await user.send("Не знаю, как писать отчество")
    header = next(
        c
        for c in harness.session.calls
        if isinstance(c, SendMessage) and c.chat_id == SUPPORT_CHAT_ID
    )
    assert "Шаг заявки: ФИО" in header.text
    assert await state_of(harness, user) == "Form:full_name"
