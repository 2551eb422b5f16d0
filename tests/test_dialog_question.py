"""Consultations: applicants ask (FAQ first), operators answer in a forum supergroup."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

import yaml
from aiogram.methods import (
    CopyMessage,
    CreateForumTopic,
    DeleteForumTopic,
    EditForumTopic,
    SendMessage,
)
from sqlalchemy import select, update

from bot import texts
from bot.dispatcher import build_dispatcher
from bot.outbound import support_threads
from bot.outbound.context import Context
from bot.outbound.support_desk import enqueue_overdue
from db.database import Database
from db.models import SupportRating, SupportThread, utcnow
from services import outbox, staff
from services.outbox import Kind
from services.role_matrix import RoleMatrix
from services.support import WorkingHours, parse_faq
from tests.conftest import ADMIN_ID, SUPPORT_CHAT_ID, make_settings
from tests.support.admin import submitted
from tests.support.concurrency import TIMEOUT, Rendezvous
from tests.support.dialog_steps import through_consent
from tests.support.harness import ChatUser, Harness
from tests.test_dialog_validation import state_of

OPERATOR_ID = 900777


async def forum(harness: Harness, db: Database) -> ChatUser:
    """Make the support chat a forum and return an operator in it."""
    harness.session.forum_chats.add(SUPPORT_CHAT_ID)
    async with db.write() as session:
        await staff.add(session, ADMIN_ID, OPERATOR_ID, staff.StaffRole.OPERATOR)
    return harness.member(OPERATOR_ID, SUPPORT_CHAT_ID, "Оператор")


async def thread(db: Database, user_id: int = 1001) -> SupportThread:
    async with db.read() as session:
        found = await session.get(SupportThread, user_id)
    assert found is not None
    return found


def copies_to(harness: Harness, chat_id: int) -> list[tuple[int, int | None]]:
    return [(c.message_id, c.thread_id) for c in harness.session.copies if c.chat_id == chat_id]


# The header's last line: what follows it, a blank line apart, is the thread's first text.
HEADER_END = texts.thread_header(1, "x", []).rsplit("\n", 1)[1]


# Inside the header, a question asked from no step of the form is named as one.
ASKED = f"{texts.question_note(None)}\n\n"


def under_header(plain: str) -> str | None:
    """The text a thread's header carries under it (its first question), if any."""
    if not plain.startswith("👤") or f"{HEADER_END}\n\n" not in plain:
        return None
    return plain.split(f"{HEADER_END}\n\n", 1)[1]


def relayed_to(harness: Harness, chat_id: int) -> list[int | None]:
    """The topics of the person's messages that reached the chat, in order: copied, or, when
    plain text asked from a step of the form, written under the note naming the step, or
    inside the thread's header when it was the first."""
    copies = {c.new_id: c.thread_id for c in harness.session.copies if c.chat_id == chat_id}
    as_text = {
        s.message_id: s.thread_id
        for s in harness.session.in_chat(chat_id)
        if (s.plain.startswith("❓ Вопрос с шага") and "\n\n" in s.plain)
        or under_header(s.plain) is not None
    }
    return [topic for _, topic in sorted((copies | as_text).items())]


async def test_question_from_the_esia_step_keeps_the_dialog(harness: Harness, db: Database) -> None:
    await forum(harness, db)
    user = harness.user()
    await user.send("/start")
    await user.press("📝 Подать заявку")
    await user.press("✅ Согласен(на)")
    await user.press("Да")
    await user.press("😕 Не получается")
    sent = await user.press(texts.BTN_ASK)
    assert sent[-1].plain.startswith("Возможно, ответ уже есть")
    assert any("ЕГИСЗ" in b for b in sent[-1].buttons)
    sent = await user.send("Портал не открывается, что делать?")
    assert texts.ASK_SENT in sent[-1].plain or texts.ASK_SENT in sent[0].plain

    topic = (await thread(db)).topic_id
    assert topic is not None and harness.session.topics[(SUPPORT_CHAT_ID, topic)] == "Мария"
    in_topic = [s for s in harness.session.in_chat(SUPPORT_CHAT_ID) if s.thread_id == topic]
    assert "Заявок пока нет" in in_topic[0].plain  # the header
    # The header, the note naming the step and the question under it: one message of the
    # group's budget.
    assert under_header(in_topic[0].plain) == (
        "❓ Вопрос с шага заявки: вход на портал ЕГИСЗ через Госуслуги\n\n"
        "Портал не открывается, что делать?"
    )
    assert len(in_topic) == 1 and copies_to(harness, SUPPORT_CHAT_ID) == []

    assert await state_of(harness, user) == "Form:esia"
    sent = await user.press("▶️ Продолжить")
    assert "Вход на портал ЕГИСЗ через Госуслуги" in sent[-1].plain
    await user.press("✅ Готово")
    assert await state_of(harness, user) == "Form:snils"


async def test_the_faq_answers_before_anyone_is_asked(harness: Harness, db: Database) -> None:
    user = harness.user()
    await through_consent(user)
    await user.press(texts.BTN_STEP_HELP)
    sent = await user.press("Какой адрес электронной почты указать?")
    assert "Личный адрес" in sent[-1].plain
    await user.press(texts.BTN_FAQ_HELPED)
    assert await state_of(harness, user) == "Form:snils"
    assert harness.session.copies == []


async def test_operator_answers_notes_and_closes(harness: Harness, db: Database) -> None:
    operator = await forum(harness, db)
    user = harness.user()
    await user.send("/help")
    await user.send("Как выбрать роль?")
    topic = (await thread(db)).topic_id
    assert (await thread(db)).waiting_since is not None

    await operator.send("// коллеги, это про матрицу", thread_id=topic)
    assert copies_to(harness, user.id) == []
    await operator.send("Выберите должность — роль предложит бот.", thread_id=topic)
    assert len(copies_to(harness, user.id)) == 1
    assert (await thread(db)).waiting_since is None

    sent = await operator.send("/close", thread_id=topic)
    assert sent[-1].plain == texts.THREAD_CLOSED
    assert user.last.plain == texts.APPLICANT_CLOSED
    await user.press("4")
    async with db.read() as session:
        ratings = (await session.scalars(select(SupportRating))).all()
    assert [(r.user_id, r.rating) for r in ratings] == [(user.id, 4)]

    await user.send("/help")
    await user.send("И ещё вопрос")
    assert (await thread(db)).status == "open"  # a new question reopens the ticket
    assert (await thread(db)).topic_id == topic


async def test_a_deleted_topic_is_recreated(harness: Harness, db: Database) -> None:
    await forum(harness, db)
    user = harness.user()
    await user.send("/help")
    await user.send("Первый вопрос")
    old_topic = (await thread(db)).topic_id
    assert old_topic is not None
    harness.session.deleted_topics.add((SUPPORT_CHAT_ID, old_topic))
    await user.send("/help")
    await user.send("Второй вопрос")
    new_topic = (await thread(db)).topic_id
    assert new_topic is not None and new_topic != old_topic
    assert copies_to(harness, SUPPORT_CHAT_ID)[-1][1] == new_topic
    assert harness.session.refusals.count("Bad Request: message thread not found") >= 1


async def test_two_first_messages_at_once_make_one_topic(harness: Harness, db: Database) -> None:
    # Two workers deliver one applicant's first questions at once (within one process a
    # chat's rows go one at a time; across processes the guard is the conditional UPDATE
    # that stores the thread's topic). Both reach «create a topic» together: one topic is
    # kept, the other is deleted again, and both questions go into the one kept.
    await forum(harness, db)
    harness.auto_deliver = False
    user = harness.user()
    await user.send("/help")
    await user.send("Вопрос раз")
    both_there = Rendezvous(2)
    harness.session.gates[CreateForumTopic] = both_there.arrive
    delivery = harness.delivery

    async def ensure() -> int | None:
        async with db.read() as session:
            found = await session.get(SupportThread, user.id)
        assert found is not None
        ctx = Context(harness.bot, db, delivery.settings, delivery.pacer, delivery.clock)
        topic, _ = await support_threads.ensure_topic(ctx, found)
        return topic

    async with asyncio.timeout(TIMEOUT):
        first, second = await asyncio.gather(ensure(), ensure())
    assert len(both_there.arrived) == 2  # both really created a topic
    kept = (await thread(db)).topic_id
    assert first == second == kept is not None
    deleted = [c for c in harness.session.calls if isinstance(c, DeleteForumTopic)]
    assert [c.message_thread_id for c in deleted] == [
        t for (_chat, t) in harness.session.topics if t != kept
    ]
    del harness.session.gates[CreateForumTopic]
    await harness.deliver()
    assert [c.thread_id for c in harness.session.copies] == [kept]


async def test_plain_group_without_topics_relays_by_replies(harness: Harness, db: Database) -> None:
    async with db.write() as session:
        await staff.add(session, ADMIN_ID, OPERATOR_ID, staff.StaffRole.OPERATOR)
    operator = harness.member(OPERATOR_ID, SUPPORT_CHAT_ID, "Оператор")
    user = harness.user()
    await user.send("/help")
    await user.send("Вопрос в обычную группу")
    assert (await thread(db)).topic_id is None
    header = harness.session.in_chat(SUPPORT_CHAT_ID)[-1]
    assert "Мария" in header.plain  # the chain's head, the first question inside it
    assert under_header(header.plain) == f"{ASKED}Вопрос в обычную группу"
    await user.send("Второй вопрос")
    copied_id = harness.session.copies[-1].new_id  # a reply to the header, in the chain
    copied = type(header)(SUPPORT_CHAT_ID, copied_id, "Вопрос", "Вопрос", [], None)
    await operator.send("Ответ по реплаю", reply_to=copied)
    assert len(copies_to(harness, user.id)) == 1
    await operator.send("Ответ на первый вопрос", reply_to=header)
    assert len(copies_to(harness, user.id)) == 2
    await operator.send("Просто разговор в группе")
    assert len(copies_to(harness, user.id)) == 2


async def test_an_edited_question_is_relayed_as_a_note(harness: Harness, db: Database) -> None:
    from aiogram.types import Update

    await forum(harness, db)
    user = harness.user()
    await user.send("/help")
    update = user.message_update("Вопрос с опечткой")
    await harness.feed(update)
    assert update.message is not None
    edited = update.message.model_copy(update={"text": "Вопрос с опечаткой"})
    await harness.feed(Update(update_id=999, edited_message=edited))
    notes = [s.plain for s in harness.session.in_chat(SUPPORT_CHAT_ID)]
    assert any("изменил сообщение" in n and "Вопрос с опечаткой" in n for n in notes)


async def test_a_blocked_applicant_is_marked(harness: Harness, db: Database) -> None:
    operator = await forum(harness, db)
    user = harness.user()
    await user.send("/help")
    await user.send("Вопрос")
    topic = (await thread(db)).topic_id
    harness.session.blocked.add(user.id)
    sent = await operator.send("Ответ", thread_id=topic)
    assert sent[-1].plain == texts.BLOCKED_NOTE
    assert (await thread(db)).blocked


async def test_tickets_and_faq_for_operators(harness: Harness, db: Database) -> None:
    operator = await forum(harness, db)
    user = harness.user()
    await user.send("/help")
    await user.send("Вопрос")
    topic = (await thread(db)).topic_id
    sent = await operator.send("/tickets")
    assert "Мария — ждёт 0 мин" in sent[-1].plain
    await operator.send("/faq", thread_id=topic)
    await operator.press("Сколько рассматривается заявка?")
    label, answer = harness.session.in_chat(user.id)[-2:]
    assert label.html == texts.OPERATOR_ANSWER_LABEL  # like an operator's own answer
    # The measured median time to decision, not a promise: no decision yet, none measured.
    assert "один-два рабочих дня" not in answer.plain
    assert texts.median_decision(None) in answer.plain
    assert answer.buttons == [texts.BTN_REPLY_OPERATOR]
    assert (await thread(db)).waiting_since is None


async def test_other_members_of_the_support_chat_are_ignored(
    harness: Harness, db: Database
) -> None:
    await forum(harness, db)
    user = harness.user()
    await user.send("/help")
    await user.send("Вопрос")
    topic = (await thread(db)).topic_id
    stranger = harness.member(123456, SUPPORT_CHAT_ID, "Гость")
    assert await stranger.send("Я отвечу!", thread_id=topic) == []
    sent = await stranger.send("/close", thread_id=topic)
    assert sent[-1].plain == texts.NO_ACCESS
    assert copies_to(harness, user.id) == [] and (await thread(db)).status == "open"


async def test_a_question_waiting_too_long_is_reminded_once(
    harness: Harness, db: Database, settings: object
) -> None:
    await forum(harness, db)
    user = harness.user()
    await user.send("/help")
    await user.send("Вопрос")
    async with db.write() as session:
        await session.execute(
            update(SupportThread).values(waiting_since=utcnow() - timedelta(hours=5))
        )
    for expected in (1, 0):
        async with db.write() as session:
            assert await enqueue_overdue(session, harness.dp["settings"]) == expected
        await harness.deliver()
    notes = [s.plain for s in harness.session.in_chat(SUPPORT_CHAT_ID)]
    assert any("ждёт ответа 5.0 ч" in n for n in notes)


async def test_without_a_support_chat_questions_go_to_the_admins(
    db: Database, role_matrix: RoleMatrix, database_url: str
) -> None:
    settings = make_settings(database_url, support_chat_id=None)
    h = Harness(build_dispatcher(settings, db, role_matrix))
    user = h.user()
    await user.send("/help")
    await user.send("Вопрос без группы поддержки")
    to_admin = [
        c
        for c in h.session.calls
        if isinstance(c, SendMessage | CopyMessage) and int(c.chat_id) == ADMIN_ID
    ]
    assert len(to_admin) == 2
    await h.dp.storage.close()


def test_working_hours() -> None:
    from datetime import datetime

    from bot.texts import LOCAL_TZ

    hours = WorkingHours.parse("09:00-18:00", "1-5")
    assert hours.open_at(datetime(2026, 11, 26, 10, 0, tzinfo=LOCAL_TZ))  # Thursday
    assert not hours.open_at(datetime(2026, 11, 26, 18, 0, tzinfo=LOCAL_TZ))
    assert not hours.open_at(datetime(2026, 11, 28, 10, 0, tzinfo=LOCAL_TZ))  # Saturday
    friday_night = datetime(2026, 11, 27, 20, 0, tzinfo=LOCAL_TZ)
    assert hours.next_opening(friday_night) == datetime(2026, 11, 30, 9, 0, tzinfo=LOCAL_TZ)


def test_the_faq_file_is_valid() -> None:
    from tests.conftest import ROOT

    entries = parse_faq((ROOT / "faq.yaml").read_text(encoding="utf-8"))
    assert len(entries) >= 5 and all(e.question and e.answer for e in entries)


async def test_an_faq_button_follows_its_question_when_the_file_is_edited(
    db: Database, role_matrix: RoleMatrix, organizations: None, database_url: str, tmp_path: Path
) -> None:
    faq = tmp_path / "faq.yaml"

    def write(*questions: str, mtime: int) -> None:
        entries = [{"question": q, "answer": f"Ответ: {q}"} for q in questions]
        faq.write_text(yaml.safe_dump({"faq": entries}, allow_unicode=True), encoding="utf-8")
        os.utime(faq, (mtime, mtime))

    write("Вопрос А", "Вопрос Б", mtime=1_800_000_000)
    settings = make_settings(database_url, faq_path=str(faq))
    harness = Harness(build_dispatcher(settings, db, role_matrix))
    user = harness.user()
    await through_consent(user)
    menu = (await user.press(texts.BTN_STEP_HELP))[-1]
    press_a, press_b = menu.button_data("Вопрос А"), menu.button_data("Вопрос Б")
    assert press_a is not None and press_b is not None

    write("Вопрос Б", "Вопрос В", mtime=1_800_000_100)  # reordered, А removed, В added
    sent = await user.press_data(menu, press_b)
    assert sent[-1].plain.startswith("Вопрос Б") and "Ответ: Вопрос Б" in sent[-1].plain
    sent = await user.press_data(menu, press_a)
    assert sent == [] and user.last_answer_text() == texts.STALE_BUTTON
    assert harness.unanswered_callbacks() == []


async def test_what_an_applicant_writes_to_the_specialist_mid_form_reaches_the_topic(
    harness: Harness, db: Database
) -> None:
    operator = await forum(harness, db)
    user = harness.user()
    await through_consent(user)  # at the SNILS step now; go back to the ЕСИА step (buttons)
    await user.press(texts.BTN_BACK)
    await user.press(texts.BTN_STEP_HELP)
    await user.send("Портал не открывается, что делать?")
    await user.press(texts.BTN_CONTINUE)
    assert await state_of(harness, user) == "Form:esia"
    topic = (await thread(db)).topic_id
    relayed = len(relayed_to(harness, SUPPORT_CHAT_ID))

    await operator.send("Откройте портал с телефона через мобильный интернет.", thread_id=topic)
    label, answer = harness.session.in_chat(user.id)[-2:]
    assert label.html == texts.OPERATOR_ANSWER_LABEL
    assert answer.buttons == [texts.BTN_REPLY_OPERATOR]  # how to answer, under the answer

    # Free text at a step that takes only buttons goes to the specialist, not to the form.
    sent = await user.send("Спасибо, получилось!")
    assert len(relayed_to(harness, SUPPORT_CHAT_ID)) == relayed + 1
    assert relayed_to(harness, SUPPORT_CHAT_ID)[-1] == topic
    assert sent[-1].html.startswith(texts.FORWARDED_TO_OPERATOR)
    assert texts.BTN_DONE in sent[-1].buttons  # the step again, its buttons at hand
    assert await state_of(harness, user) == "Form:esia"

    # At a text step, a reply to the answer goes to the specialist; plain text is the answer.
    await user.press(texts.BTN_DONE)
    sent = await user.send("А СНИЛС тогда где смотреть?", reply_to=answer)
    assert len(relayed_to(harness, SUPPORT_CHAT_ID)) == relayed + 2
    assert sent[-1].html.startswith(texts.FORWARDED_TO_OPERATOR)
    assert await state_of(harness, user) == "Form:snils"
    await user.send("112 233 445 95")
    assert len(relayed_to(harness, SUPPORT_CHAT_ID)) == relayed + 2
    assert await state_of(harness, user) == "Form:full_name"

    # The button under the answer: one message to the specialist, then back to the form.
    sent = await user.press(texts.BTN_REPLY_OPERATOR)
    assert sent[-1].plain == texts.REPLY_PROMPT
    sent = await user.send("И ещё: отчество писать?")
    assert len(relayed_to(harness, SUPPORT_CHAT_ID)) == relayed + 3
    await user.press(texts.BTN_CONTINUE)
    assert await state_of(harness, user) == "Form:full_name"
    assert harness.unanswered_callbacks() == [] and harness.session.refusals == []


async def test_text_at_a_button_step_is_form_input_when_no_consultation_is_open(
    harness: Harness, db: Database
) -> None:
    operator = await forum(harness, db)
    user = harness.user()
    await user.send("/help")
    await user.send("Вопрос")
    topic = (await thread(db)).topic_id
    await operator.send("/close", thread_id=topic)
    relayed = len(copies_to(harness, SUPPORT_CHAT_ID))
    await through_consent(user)
    await user.press(texts.BTN_BACK)
    sent = await user.send("готово")
    assert sent[-1].html.startswith(texts.USE_BUTTONS)
    assert len(copies_to(harness, SUPPORT_CHAT_ID)) == relayed


async def test_a_reply_to_the_label_of_an_answer_goes_to_the_specialist_not_the_form(
    harness: Harness, db: Database
) -> None:
    """The operator's answer comes as two messages: «Ответ специалиста МИАЦ 👇», then the
    answer. A reply to either, at a step that takes text, is for the specialist."""
    operator = await forum(harness, db)
    user = harness.user()
    await through_consent(user)  # at the SNILS step: it takes text
    await user.press(texts.BTN_STEP_HELP)
    await user.press(texts.BTN_ASK)
    await user.send("Где взять СНИЛС?")
    await user.press(texts.BTN_CONTINUE)
    assert await state_of(harness, user) == "Form:snils"
    topic = (await thread(db)).topic_id
    relayed = len(relayed_to(harness, SUPPORT_CHAT_ID))

    await operator.send("СНИЛС есть в Госуслугах, в разделе «Документы».", thread_id=topic)
    label, answer = harness.session.in_chat(user.id)[-2:]
    assert label.html == texts.OPERATOR_ANSWER_LABEL
    sent = await user.send("Не нашла там, где ещё?", reply_to=label)
    assert len(relayed_to(harness, SUPPORT_CHAT_ID)) == relayed + 1
    assert sent[-1].html.startswith(texts.FORWARDED_TO_OPERATOR)
    assert await state_of(harness, user) == "Form:snils"
    sent = await user.send("Спасибо", reply_to=answer)
    assert len(relayed_to(harness, SUPPORT_CHAT_ID)) == relayed + 2
    assert await state_of(harness, user) == "Form:snils"
    assert harness.session.refusals == []

    # An answer from the FAQ is two messages as well.
    await operator.send("/faq", thread_id=topic)
    await operator.press("Сколько рассматривается заявка?")
    label, answer = harness.session.in_chat(user.id)[-2:]
    assert label.html == texts.OPERATOR_ANSWER_LABEL
    for reply_to in (label, answer):
        await user.send("А побыстрее можно?", reply_to=reply_to)
    assert len(relayed_to(harness, SUPPORT_CHAT_ID)) == relayed + 4
    assert await state_of(harness, user) == "Form:snils"


async def test_a_reply_to_the_specialist_is_acknowledged_as_a_reply_not_a_new_question(
    db: Database, role_matrix: RoleMatrix, organizations: None, database_url: str
) -> None:
    settings = make_settings(database_url, support_hours="00:00-00:00")  # always closed
    harness = Harness(build_dispatcher(settings, db, role_matrix))
    async with db.write() as session:
        await staff.bootstrap_admins(session, settings.admin_ids)
    operator = await forum(harness, db)
    user = harness.user()
    await user.send("/help")
    sent = await user.send("Как выбрать роль?")
    assert [s.plain for s in sent][:1] == [texts.ASK_SENT]
    assert sum("нерабочее время" in s.plain for s in sent) == 1
    topic = (await thread(db)).topic_id
    await operator.send("Выберите должность — роль предложит бот.", thread_id=topic)
    answer = harness.session.in_chat(user.id)[-1]

    await user.press(texts.BTN_REPLY_OPERATOR)
    sent = await user.send("Спасибо, а если должности нет в списке?")
    assert [s.plain for s in sent] == [texts.REPLY_SENT]  # no second out-of-hours notice
    sent = await user.send("И ещё одно", reply_to=answer)
    assert [s.plain for s in sent] == [texts.REPLY_SENT]
    in_group = [s.plain for s in harness.session.in_chat(SUPPORT_CHAT_ID)]
    assert [under_header(p) for p in in_group][:1] == [f"{ASKED}Как выбрать роль?"]  # the 1st
    assert len(copies_to(harness, SUPPORT_CHAT_ID)) == 2  # the two replies after it
    await harness.dp.storage.close()


async def test_a_question_typed_after_start_is_offered_to_the_operators_with_one_press(
    harness: Harness, db: Database
) -> None:
    await forum(harness, db)
    user = harness.user()
    await user.send("/start")
    sent = await user.send("не открывается портал ЕГИСЗ")
    assert len(sent) == 1 and sent[0].plain.startswith(texts.LOOSE_QUESTION_OFFER)
    assert "ВИМИС ОНКО" not in sent[0].plain  # not the greeting again
    assert sent[0].buttons[0] == texts.BTN_ASK_THIS and texts.BTN_NEW in sent[0].buttons
    assert copies_to(harness, SUPPORT_CHAT_ID) == []  # nothing goes without the press
    offer = sent[0]
    sent = await user.press(texts.BTN_ASK_THIS)
    assert texts.ASK_SENT in [s.plain for s in sent]

    def asked() -> list[str]:
        in_group = harness.session.in_chat(SUPPORT_CHAT_ID)
        return [t for t in (under_header(s.plain) for s in in_group) if t is not None]

    assert asked() == [f"{ASKED}не открывается портал ЕГИСЗ"]  # the message itself, as typed
    assert harness.session.messages[(user.id, offer.message_id)].buttons == []
    data = offer.button_data(texts.BTN_ASK_THIS)
    assert data is not None
    assert await user.press_data(offer, data) == []  # an old button: nothing twice
    assert user.last_answer_text() == texts.STALE_BUTTON
    assert asked() == [f"{ASKED}не открывается портал ЕГИСЗ"]
    assert copies_to(harness, SUPPORT_CHAT_ID) == []
    assert harness.unanswered_callbacks() == []


async def test_a_question_that_needed_cleaning_reaches_the_topic_cleaned(
    harness: Harness, db: Database
) -> None:
    """copyMessage would carry the typed text as it was (a right-to-left override turning
    «exe.pdf» round, say): a question whose text needed cleaning is relayed as its cleaned
    content, a plain one is still copied."""
    await forum(harness, db)
    user = harness.user()
    await user.send("/help")
    await user.send("Файл \u202eFDP.exe\u202c не открывается\u200b")
    topic = (await thread(db)).topic_id
    assert copies_to(harness, SUPPORT_CHAT_ID) == []
    in_topic = [s for s in harness.session.in_chat(SUPPORT_CHAT_ID) if s.thread_id == topic]
    assert in_topic[-1].plain == "Файл FDP.exe не открывается"
    assert not any("\u202e" in s.html or "\u200b" in s.html for s in harness.session.log)
    await user.send("/help")
    await user.send("Обычный вопрос")
    assert len(copies_to(harness, SUPPORT_CHAT_ID)) == 1


async def test_a_topic_that_has_its_new_name_already_is_recorded_and_not_renamed_again(
    harness: Harness, db: Database
) -> None:
    # A rename whose answer was lost took effect: Telegram answers the retry
    # TOPIC_NOT_MODIFIED. The name is recorded, or every later refresh of the header would
    # try the same rename again and be refused again.
    await forum(harness, db)
    user = await submitted(harness, 1001)
    await user.send("/help")
    await user.send("Как выбрать роль?")
    before = await thread(db)
    assert before.topic_id is not None and "Иванова" in before.title
    async with db.write() as session:  # as if the stored name were an earlier one
        await session.execute(update(SupportThread).values(title="Прежнее имя"))
    renames_before = sum(isinstance(m, EditForumTopic) for m in harness.session.calls)
    for _ in range(2):
        async with db.write() as session:
            await outbox.enqueue_for_person(
                session, SUPPORT_CHAT_ID, Kind.SUPPORT_HEADER, user_id=user.id
            )
        await harness.deliver()
    assert (await thread(db)).title == before.title
    renames = sum(isinstance(m, EditForumTopic) for m in harness.session.calls) - renames_before
    assert renames == 1  # refused once as not modified, then never tried again
