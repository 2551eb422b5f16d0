"""How a dialog ends and starts again: buttons of a dialog that is over tell the truth, «Начать
заново» asks before deleting, a second request is checked at «Подать заявку» (issue 15, points
1, 3 and 4)."""

from __future__ import annotations

from sqlalchemy import func, select

from bot import texts
from bot.fsm.data import FormData
from db.database import Database
from db.models import AccessRequest
from tests.support.dialog_steps import through_consent, to_summary
from tests.support.harness import ChatUser, Harness
from tests.test_dialog_validation import key, state_of


async def _requests(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(AccessRequest)) or 0)


def _buttons_now(harness: Harness, user: ChatUser, message_id: int) -> list[str]:
    return harness.session.messages[(user.id, message_id)].buttons


async def test_a_cancelled_request_is_not_said_to_be_sent(harness: Harness, db: Database) -> None:
    user = harness.user()
    await to_summary(user)
    summary, submit = user.find_button(texts.BTN_SUBMIT)
    sent = await user.send("/cancel")
    assert sent[-1].plain == texts.CANCELLED
    assert _buttons_now(harness, user, summary.message_id) == []  # /cancel strips them
    await user.press_data(summary, submit)  # an old copy of the summary, pressed anyway
    assert user.last_answer_text() == texts.NOT_SUBMITTED
    assert await _requests(db) == 0
    sent = await user.send("/my")
    assert sent[-1].plain == texts.MY_EMPTY
    assert harness.unanswered_callbacks() == []


async def test_the_cancel_button_also_ends_the_dialog_truthfully(
    harness: Harness, db: Database
) -> None:
    user = harness.user()
    await to_summary(user)
    summary, submit = user.find_button(texts.BTN_SUBMIT)
    edit_name = summary.button_data("✏️ ФИО")
    await user.press("✖️ Отмена")
    for data in (submit, edit_name):
        assert data is not None
        await user.press_data(summary, data)
        assert user.last_answer_text() == texts.NOT_SUBMITTED
    assert await _requests(db) == 0


async def test_a_sent_request_is_named_when_its_old_summary_is_pressed(
    harness: Harness, db: Database
) -> None:
    user = harness.user()
    await to_summary(user)
    summary, submit = user.find_button(texts.BTN_SUBMIT)
    await user.press(texts.BTN_SUBMIT)
    await user.press_data(summary, submit)
    assert user.last_answer_text() == texts.already_submitted(1)
    assert await _requests(db) == 1


async def test_starting_afresh_strips_the_old_dialog_and_its_buttons_go_stale(
    harness: Harness, db: Database
) -> None:
    user = harness.user()
    await to_summary(user)
    summary, submit = user.find_button(texts.BTN_SUBMIT)
    await user.send("/start")
    await user.press(texts.BTN_RESTART)
    await user.press(texts.BTN_RESTART_YES)
    assert await state_of(harness, user) == "Form:consent"
    assert _buttons_now(harness, user, summary.message_id) == []
    await user.press_data(summary, submit)
    assert user.last_answer_text() == texts.STALE_BUTTON  # a new dialog is under way
    assert await _requests(db) == 0


async def test_start_afresh_asks_before_deleting_a_finished_draft(harness: Harness) -> None:
    user = harness.user()
    await to_summary(user)
    sent = await user.send("/start")
    assert sent[-1].plain == texts.RESUME_PROMPT
    question, restart = user.find_button(texts.BTN_RESTART)
    sent = await user.press(texts.BTN_CONTINUE)
    assert await state_of(harness, user) == "Form:summary"
    # The question is answered: its buttons are gone, the choice stays under it.
    assert _buttons_now(harness, user, question.message_id) == []
    assert texts.BTN_CONTINUE in harness.session.messages[(user.id, question.message_id)].plain

    sent = await user.press_data(question, restart)  # the old «Начать заново», pressed later
    assert sent[-1].plain == texts.RESTART_CONFIRM  # asked, not wiped
    data = FormData.model_validate(await harness.dp.storage.get_data(key(user)))
    assert data.snils == "112-233-445 95" and data.position is not None
    sent = await user.press(texts.BTN_CONTINUE)  # «no»: back where it was
    assert await state_of(harness, user) == "Form:summary"
    assert "Проверьте заявку" in sent[-1].plain

    await user.send("/start")
    await user.press(texts.BTN_RESTART)
    sent = await user.press(texts.BTN_RESTART_YES)
    assert await state_of(harness, user) == "Form:consent"
    data = FormData.model_validate(await harness.dp.storage.get_data(key(user)))
    assert data.snils is None
    assert harness.unanswered_callbacks() == [] and harness.session.refusals == []


async def test_start_afresh_with_nothing_typed_does_not_ask(harness: Harness) -> None:
    user = harness.user()
    await through_consent(user)
    await user.send("/start")
    await user.press(texts.BTN_RESTART)
    assert await state_of(harness, user) == "Form:consent"


async def test_a_second_request_is_checked_when_it_starts(harness: Harness, db: Database) -> None:
    user = harness.user()
    await to_summary(user)
    await user.press(texts.BTN_SUBMIT)
    await user.send("/start")
    sent = await user.press(texts.BTN_NEW)
    shown = sent[-1]
    assert "У вас уже есть заявки" in shown.plain
    assert "№ 1 — Куратор 2 уровня; на рассмотрении" in shown.plain
    assert texts.BTN_ANOTHER_ROLE in shown.buttons
    assert await state_of(harness, user) is None  # nothing to re-type yet
    sent = await user.send("/new")
    assert "У вас уже есть заявки" in sent[-1].plain

    sent = await user.press(texts.BTN_ANOTHER_ROLE)
    assert "Заявка на другую роль" in sent[-1].plain and "№ 1" in sent[-1].plain
    assert texts.BTN_AGREE in sent[-1].buttons  # consent is given for each request
    sent = await user.press(texts.BTN_AGREE)
    assert await state_of(harness, user) == "Form:position"  # Госуслуги and ЕСИА were done
    sent = await user.press("3. Главный врач")
    assert "Куратор 2 уровня</b> — Муниципальное образование РФ" in sent[-1].html
    assert "(уже есть заявка № 1)" in sent[-1].plain
    sent = await user.press("Куратор 1 уровня")
    summary = sent[-1]
    assert "112-233-445 95" in summary.plain and "Иванова Мария Петровна" in summary.plain
    assert "ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»" in summary.plain
    assert "Куратор 1 уровня" in summary.plain and "У вас уже есть заявка" not in summary.plain
    await user.press(texts.BTN_SUBMIT)
    async with db.read() as session:
        rows = (await session.scalars(select(AccessRequest).order_by(AccessRequest.id))).all()
    assert [(r.role, r.snils, r.email) for r in rows] == [
        ("Куратор 2 уровня", "112-233-445 95", "ivanova@example.ru"),
        ("Куратор 1 уровня", "112-233-445 95", "ivanova@example.ru"),
    ]
    assert rows[1].consent_id is not None and rows[1].consent_id != rows[0].consent_id
    assert harness.unanswered_callbacks() == [] and harness.session.refusals == []


async def test_the_same_role_again_is_still_refused_at_the_summary(
    harness: Harness, db: Database
) -> None:
    user = harness.user()
    await to_summary(user)
    await user.press(texts.BTN_SUBMIT)
    await user.press(texts.BTN_NEW)
    await user.press(texts.BTN_ANOTHER_ROLE)
    await user.press(texts.BTN_AGREE)
    await user.press("3. Главный врач")
    sent = await user.press("Куратор 2 уровня")
    assert "У вас уже есть заявка № 1" in sent[-1].plain
    assert texts.BTN_SUBMIT not in sent[-1].buttons
    assert await _requests(db) == 1


async def test_a_returned_request_is_offered_for_fixing_at_the_start(
    h: Harness, db: Database
) -> None:
    from tests.support.admin import admin, submitted

    applicant = await submitted(h)
    boss = admin(h)
    await boss.press(texts.BTN_RETURN)
    await boss.press("▫️ ФИО")
    await boss.press(texts.BTN_NEXT)
    await boss.reply("Полностью, как в Госуслугах")
    sent = await applicant.press(texts.BTN_NEW)
    assert "возвращена на доработку" in sent[-1].plain
    assert sent[-1].buttons[0] == texts.btn_fix(1)
    sent = await applicant.press(texts.btn_fix(1))
    assert "Исправление заявки № 1" in sent[-1].plain
