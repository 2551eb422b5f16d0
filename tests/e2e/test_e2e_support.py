"""End to end: a question from the ЕСИА step to a forum topic, the operator's answer back,
and the dialog going on; with a hostile Telegram name for the applicant and the operator, so
the stand-in's HTML check sees the topic header and the edited-question note with them."""

from __future__ import annotations

from tests.e2e.standin import BotApiStandin
from tests.e2e.support import BotProcess, Person

APPLICANT = 5550003
OPERATOR = 900001  # an admin from ADMIN_IDS acts as an operator
SUPPORT = -1009876543210
HOSTILE = "‹Оля & Ко>"
HOSTILE_OPERATOR = '<b>Оля</b> & "Ко" \u202eнимда'


async def test_question_from_the_esia_step_answered_in_a_topic(
    standin: BotApiStandin, bot_env: dict[str, str]
) -> None:
    standin.forum_chats.add(SUPPORT)
    bot_env.update(SUPPORT_CHAT_ID=str(SUPPORT), SUPPORT_HOURS="00:00-23:59", SUPPORT_DAYS="1-7")
    bot = BotProcess(bot_env)
    await bot.start(standin)
    try:
        me = Person(standin, APPLICANT, HOSTILE)
        await me.says("/new", "Согласие на обработку")
        await me.presses("✅ Согласен(на)", "подтверждённая")
        await me.presses("Да", "Вход на портал ЕГИСЗ через Госуслуги")
        await me.presses("😕 Не получается", "Частые причины")
        await me.presses("❓ Задать вопрос", "Возможно, ответ уже есть")
        asked = len(standin.sent)
        question = standin.push_message(
            APPLICANT, "Портал <ЕГИСЗ> не открывается & что делать?", first_name=HOSTILE
        )
        header = await standin.wait_for_message(
            SUPPORT, lambda r: "Заявок пока нет" in (r.text or ""), after=asked, timeout=15
        )
        assert HOSTILE in (header.text or "")
        topic = header.message_thread_id
        assert topic is not None and standin.topics[(SUPPORT, topic)].name == HOSTILE
        # The person's first question: the note naming the step and the plain-text question,
        # inside the header, one message; the person's characters shown as typed.
        assert (header.text or "").endswith(
            "\n\n❓ Вопрос с шага заявки: вход на портал ЕГИСЗ через Госуслуги\n\n"
            "Портал <ЕГИСЗ> не открывается & что делать?"
        )
        in_group = [r for r in standin.sent[asked:] if r.chat_id == SUPPORT]
        assert [r.method for r in in_group] == ["sendMessage"]  # no copy, no note apart

        mark = len(standin.sent)
        standin.push_edit(question, "Портал <ЕГИСЗ> не открывается & что делать? «Ко»")
        note = await standin.wait_for_message(
            SUPPORT, lambda r: "изменил сообщение" in (r.text or ""), after=mark, timeout=15
        )
        assert "<ЕГИСЗ> не открывается & что делать? «Ко»" in (note.text or "")
        assert note.message_thread_id == topic

        mark = len(standin.sent)
        standin.push_message(
            OPERATOR,
            "Откройте портал с телефона через мобильный интернет",
            first_name=HOSTILE_OPERATOR,
            chat_id=SUPPORT,
            message_thread_id=topic,
        )
        answer = await standin.wait_for_message(
            APPLICANT, lambda r: r.method == "copyMessage", after=mark, timeout=15
        )
        assert "мобильный интернет" in (answer.text or "")

        await me.sees_button(asked, "▶️ Продолжить")  # the answer to the question carries it
        await me.presses("▶️ Продолжить", "Вход на портал ЕГИСЗ через Госуслуги")
        await me.presses("✅ Готово", "СНИЛС")
    finally:
        code, output = await bot.stop()
    assert code == 0, output
    assert standin.errors == [], [e.description for e in standin.errors]
    assert standin.unanswered_callbacks() == []
    assert "Портал" not in output  # the question's text is not logged


SECOND_SUPPORT = -1009876543211


async def test_two_support_groups_share_the_questions(
    standin: BotApiStandin, bot_env: dict[str, str]
) -> None:
    # Each group takes 20 of the bot's messages a minute: people are spread across the
    # groups by their id (5550004 to the first of two, 5550005 to the second).
    standin.forum_chats.update({SUPPORT, SECOND_SUPPORT})
    bot_env.update(
        SUPPORT_CHAT_ID=str(SUPPORT),
        SUPPORT_EXTRA_CHAT_IDS=str(SECOND_SUPPORT),
        SUPPORT_HOURS="00:00-23:59",
        SUPPORT_DAYS="1-7",
    )
    bot = BotProcess(bot_env)
    await bot.start(standin)
    try:
        headers = {}
        for person, desk in ((5550004, SUPPORT), (5550005, SECOND_SUPPORT)):
            me = Person(standin, person, "Анна")
            await me.says("/help", "Возможно, ответ уже есть")
            mark = len(standin.sent)
            standin.push_message(person, f"Вопрос от {person}", first_name="Анна")
            headers[person] = await standin.wait_for_message(
                desk, lambda r, p=person: f"Вопрос от {p}" in (r.text or ""), after=mark
            )
        everywhere = [r for r in standin.sent if "Вопрос от" in (r.text or "")]
        assert sorted((r.chat_id, r.text[-7:]) for r in everywhere if r.text) == sorted(
            [(SUPPORT, "5550004"), (SECOND_SUPPORT, "5550005")]
        )

        mark = len(standin.sent)
        standin.push_message(
            OPERATOR,
            "Ответ из второй группы",
            first_name="Оператор",
            chat_id=SECOND_SUPPORT,
            message_thread_id=headers[5550005].message_thread_id,
        )
        answer = await standin.wait_for_message(
            5550005, lambda r: r.method == "copyMessage", after=mark, timeout=15
        )
        assert "второй группы" in (answer.text or "")
        assert [r for r in standin.sent[mark:] if r.chat_id == 5550004] == []
    finally:
        code, output = await bot.stop()
    assert code == 0, output
    assert standin.errors == [], [e.description for e in standin.errors]
