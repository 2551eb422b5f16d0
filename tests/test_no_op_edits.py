"""Telegram refuses an edit that changes neither text nor keyboard («message is not
modified»): the bot does not send one — not to the support topic's header when the person's
requests did not change, not to a prompt pressed twice, not to a screen drawn again as it
was."""

from __future__ import annotations

from aiogram.methods import EditMessageReplyMarkup, EditMessageText

from bot import texts
from db.database import Database
from tests.support.dialog_steps import through_consent, to_summary
from tests.support.harness import Harness
from tests.test_dialog_question import forum, thread

NOT_MODIFIED = "Bad Request: message is not modified"


def _edits_of(h: Harness, chat_id: int, message_id: int) -> int:
    return sum(
        1
        for call in h.session.calls
        if isinstance(call, EditMessageText | EditMessageReplyMarkup)
        and call.chat_id == chat_id
        and call.message_id == message_id
    )


async def test_the_topic_header_is_edited_only_when_it_changes(
    harness: Harness, db: Database
) -> None:
    operator = await forum(harness, db)
    user = harness.user()
    await user.send("/help")
    await user.send("Как выбрать роль?")
    topic = (await thread(db)).topic_id
    header = (await thread(db)).header_message_id
    assert header is not None
    for question in ("И ещё вопрос", "И третий"):
        await operator.send("Выберите должность — роль предложит бот.", thread_id=topic)
        await operator.send("/close", thread_id=topic)
        await user.send("/help")
        await user.send(question)  # reopens the thread: its header is refreshed
    assert NOT_MODIFIED not in " ".join(harness.session.refusals)
    assert _edits_of(harness, (await thread(db)).chat_id, header) == 0

    await to_summary(user)  # the person's requests change: the header follows
    await user.press(texts.BTN_SUBMIT)
    assert _edits_of(harness, (await thread(db)).chat_id, header) == 1
    assert (
        "№ 1 — на рассмотрении"
        in harness.session.messages[((await thread(db)).chat_id, header)].plain
    )
    assert harness.session.refusals == []


async def test_a_prompt_pressed_twice_is_not_edited_twice(harness: Harness) -> None:
    user = harness.user()
    await user.send("/start")
    await user.press("📝 Подать заявку")
    consent, agree = user.find_button("✅ Согласен(на)")
    # The second press comes with the message as it was when pressed, keyboard and all.
    await user.press_data(consent, agree)
    await user.press_data(consent, agree)
    assert harness.session.refusals == []
    assert harness.unanswered_callbacks() == []
    assert user.answers()[-1] == texts.STALE_BUTTON


async def test_a_screen_drawn_again_as_it_was_is_not_edited(harness: Harness) -> None:
    user = harness.user()
    await through_consent(user)
    await user.send("11223344595")
    await user.send("иванова мария петровна")
    await user.send("ivanova@example.ru")
    await user.press("✅ Да, верно")
    await user.send("ЦРБ")
    results, first = user.find_button("1. ")
    # A forged organisation number: the results are drawn again, unchanged.
    forged = first.rsplit(":", 1)[0] + ":999999"
    await user.press_data(results, forged)
    assert harness.session.refusals == []
    assert harness.unanswered_callbacks() == []


async def test_double_submit_is_not_an_edit_of_the_echoed_summary(harness: Harness) -> None:
    user = harness.user()
    await to_summary(user)
    summary, submit = user.find_button(texts.BTN_SUBMIT)
    await user.press_data(summary, submit)
    await user.press_data(summary, submit)
    assert harness.session.refusals == []
    assert texts.already_submitted(1) == user.answers()[-1]
