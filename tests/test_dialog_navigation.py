"""Back, cancel, edit from the summary, pause and resume, stale buttons."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from bot import background, texts
from bot.dispatcher import build_dispatcher
from bot.fsm.data import FormData
from db.database import Database
from db.models import AccessRequest, Consent
from services.role_matrix import RoleMatrix
from tests.conftest import make_settings
from tests.support.dialog_steps import through_consent, to_summary
from tests.support.harness import Harness
from tests.test_dialog_validation import key, state_of


async def test_consent_comes_first_and_declining_stores_nothing(
    harness: Harness, db: Database
) -> None:
    user = harness.user()
    await user.send("/start")
    sent = await user.press("📝 Подать заявку")
    consent = sent[-1].plain
    for part in (
        "Оператор:",
        "Цель:",
        "Какие данные:",
        "СНИЛС",
        "идентификатор в мессенджере (Telegram или MAX)",
        "Кому передаются:",
        "Срок:",
        "Как отозвать:",
    ):
        assert part in consent
    assert "⬅️ Назад" not in sent[-1].buttons
    sent = await user.press("Не согласен(на)")
    assert sent[-1].plain.startswith(texts.CONSENT_DECLINED)
    assert await state_of(harness, user) is None
    assert await harness.dp.storage.get_data(key(user)) == {}
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Consent)) == 0


async def test_no_gosuslugi_account_explains_and_pauses(harness: Harness) -> None:
    user = harness.user()
    await user.send("/start")
    await user.press("📝 Подать заявку")
    await user.press("✅ Согласен(на)")
    sent = await user.press("Нет")
    assert "подтверждённой" in sent[-1].plain and "МФЦ" in sent[-1].plain
    sent = await user.press("⏸ Вернусь позже")
    assert sent[-1].plain == texts.PAUSED
    assert await state_of(harness, user) == "Form:gosuslugi"
    sent = await user.send("/start")
    assert sent[-1].plain == texts.RESUME_PROMPT
    sent = await user.press("▶️ Продолжить")
    assert sent[-1].plain == texts.GOSUSLUGI.replace("<b>", "").replace("</b>", "")
    await user.press("Да")
    assert await state_of(harness, user) == "Form:esia"


async def test_esia_step_links_to_the_configured_portal(harness: Harness) -> None:
    user = harness.user()
    await user.send("/start")
    await user.press("📝 Подать заявку")
    await user.press("✅ Согласен(на)")
    sent = await user.press("Да")
    assert sent[-1].button_url(texts.BTN_OPEN_ESIA) == "https://ia.egisz.rosminzdrav.ru/"
    assert "«Сохранить»" in sent[-1].plain
    sent = await user.press("😕 Не получается")
    assert "Частые причины" in sent[-1].plain
    assert texts.BTN_ASK in sent[-1].buttons
    sent = await user.press("🔁 Попробовать ещё раз")
    await user.press("✅ Готово")
    assert await state_of(harness, user) == "Form:snils"


async def test_back_returns_along_the_path_taken(harness: Harness) -> None:
    user = harness.user()
    await through_consent(user)
    await user.send("11223344595")
    sent = await user.press("⬅️ Назад")
    assert await state_of(harness, user) == "Form:snils"
    assert sent[-1].html == texts.SNILS_PROMPT
    sent = await user.press("⬅️ Назад")
    assert await state_of(harness, user) == "Form:esia"
    data = FormData.model_validate(await harness.dp.storage.get_data(key(user)))
    assert data.snils == "112-233-445 95"  # nothing typed is lost by going back
    assert data.history == ["consent", "gosuslugi"]


async def test_back_from_summary_skips_the_skipped_component_step(harness: Harness) -> None:
    user = harness.user()
    await to_summary(user)
    await user.press("⬅️ Назад")
    assert await state_of(harness, user) == "Form:role"


async def test_cancel_button_and_command_forget_the_dialog(harness: Harness) -> None:
    user = harness.user()
    await through_consent(user)
    await user.send("11223344595")
    sent = await user.press("✖️ Отмена")
    assert sent[-1].plain == texts.CANCELLED
    assert await state_of(harness, user) is None
    assert await harness.dp.storage.get_data(key(user)) == {}

    await through_consent(user)
    sent = await user.send("/cancel")
    assert sent[-1].plain == texts.CANCELLED
    assert await state_of(harness, user) is None
    sent = await user.send("/cancel")
    assert sent[-1].plain == texts.NOTHING_TO_CANCEL


async def test_edit_a_field_from_the_summary_returns_to_the_summary(harness: Harness) -> None:
    user = harness.user()
    await to_summary(user)
    await user.press("✏️ Эл. почта")
    assert await state_of(harness, user) == "Form:email"
    sent = await user.send("maria.ivanova@example.ru")
    assert await state_of(harness, user) == "Form:summary"
    assert "maria.ivanova@example.ru" in sent[-1].plain


async def test_edit_organization_by_hand_walks_both_names(harness: Harness) -> None:
    user = harness.user()
    await to_summary(user)
    await user.press("✏️ Организация")
    await user.send("нет такой")
    await user.press("Нет в списке")
    assert await state_of(harness, user) == "Form:org_full"
    await user.send("Частное учреждение «Клиника»")
    assert await state_of(harness, user) == "Form:org_short"
    sent = await user.send("ЧУ «Клиника»")
    assert await state_of(harness, user) == "Form:summary"
    assert "Частное учреждение «Клиника» (ЧУ «Клиника») (введено вручную)" in sent[-1].plain


async def test_edit_position_asks_for_the_role_again(harness: Harness) -> None:
    user = harness.user()
    await to_summary(user)
    await user.press("✏️ Должность")
    await user.press("1. Сотрудник организационно-методического отдела ОД/ЦРБ/МО")
    assert await state_of(harness, user) == "Form:role"
    sent = await user.press("✅ Подтверждаю")  # a single allowed role, pre-selected
    assert await state_of(harness, user) == "Form:summary"
    assert "Куратор 1 уровня — Медицинская организация РФ" in sent[-1].plain


async def test_several_allowed_roles_are_offered_with_their_levels(harness: Harness) -> None:
    user = harness.user()
    await to_summary(user)
    await user.press("✏️ Должность")
    sent = await user.press("2. Руководитель / заместитель руководителя онкологического")
    role_screen = sent[-1]
    assert role_screen.buttons[:3] == ["Куратор 3 уровня", "Куратор 2 уровня", "Куратор 1 уровня"]
    assert "Куратор 3 уровня</b> — Субъект РФ" in role_screen.html
    assert "Куратор 1 уровня</b> — Медицинская организация РФ" in role_screen.html


async def test_a_button_of_an_earlier_step_is_answered_politely(harness: Harness) -> None:
    user = harness.user()
    await user.send("/start")
    await user.press("📝 Подать заявку")
    consent_message, agree = user.find_button("✅ Согласен(на)")
    await user.press("✅ Согласен(на)")
    await user.press_data(consent_message, agree)  # pressed again from the old message
    assert user.last_answer_text() == texts.STALE_BUTTON
    assert await state_of(harness, user) == "Form:gosuslugi"
    await user.press_data(consent_message, "f:nosuchstep:pick:1")
    await user.press_data(consent_message, "garbage")
    assert harness.unanswered_callbacks() == []


async def test_double_submit_makes_one_request(
    harness: Harness, db: Database, role_matrix: RoleMatrix, monkeypatch: pytest.MonkeyPatch
) -> None:
    # «Отправить» pressed twice and handled by two workers at once (two dispatchers over one
    # dialog storage, without a shared per-user lock): both submits race at the database,
    # and one request is made.
    import asyncio

    from aiogram.fsm.storage.memory import SimpleEventIsolation

    from tests.support.concurrency import TIMEOUT, assert_submits_raced, race_submits

    user = harness.user()
    await to_summary(user)
    summary, data = user.find_button("📨 Отправить")
    first, _ = user.callback_update(summary, data)
    second, _ = user.callback_update(summary, data)
    other_worker = build_dispatcher(
        harness.dp["settings"],
        db,
        role_matrix,
        storage=harness.dp.storage,
        events_isolation=SimpleEventIsolation(),
    )
    timeline, start = race_submits(monkeypatch, db, parties=2)
    async with asyncio.timeout(TIMEOUT):
        await asyncio.gather(harness.feed(first), other_worker.feed_update(harness.bot, second))
        await background.drain(10)
    assert len(start.arrived) == 2  # both submits were under way at once
    assert_submits_raced(db, timeline, parties=2)
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(AccessRequest)) == 1
    assert harness.unanswered_callbacks() == []
    sent = [s.plain for s in harness.session.in_chat(user.id)]
    assert sum("отправлена" in s for s in sent) == 1


async def test_my_requests_lists_status_in_russian(harness: Harness) -> None:
    user = harness.user()
    sent = await user.send("/my")
    assert sent[-1].plain == texts.MY_EMPTY
    await to_summary(user)
    await user.press("📨 Отправить")
    sent = await user.send("/my")
    text = sent[-1].plain
    assert "на рассмотрении" in text
    assert "Куратор 2 уровня" in text
    assert "ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»" in text


async def test_greeting_states_the_deadline(
    db: Database, role_matrix: RoleMatrix, database_url: str
) -> None:
    settings = make_settings(database_url, deadline=date(2026, 12, 20))
    h = Harness(build_dispatcher(settings, db, role_matrix))
    sent = await h.user().send("/start")
    assert "до 20.12.2026" in sent[-1].plain
    await h.dp.storage.close()


async def test_back_while_editing_returns_to_the_summary(harness: Harness) -> None:
    user = harness.user()
    await to_summary(user)
    await user.press("✏️ Должность")
    await user.press("⬅️ Назад")
    assert await state_of(harness, user) == "Form:summary"
    sent = await user.press("⬅️ Назад")  # and from the summary, the path taken before
    assert await state_of(harness, user) == "Form:role"
    assert "Куратор 2 уровня" in sent[-1].plain


async def test_abandoned_hand_typing_keeps_the_directory_organization(
    harness: Harness, db: Database
) -> None:
    user = harness.user()
    await to_summary(user)
    await user.press("✏️ Организация")
    await user.send("нет такой")
    await user.press("Нет в списке")
    sent = await user.press("⬅️ Назад")  # to the results of «нет такой»
    assert "ничего не нашлось" in sent[-1].plain
    sent = await user.press("⬅️ Назад")  # to the search prompt
    assert sent[-1].html.startswith(texts.ORG_PROMPT)
    await user.press("⬅️ Назад")
    assert await state_of(harness, user) == "Form:summary"
    await user.press("📨 Отправить")
    async with db.read() as session:
        request = (await session.scalars(select(AccessRequest))).one()
    assert not request.org_manual and request.organization_id is not None


async def test_forged_huge_numbers_are_stale_buttons(harness: Harness) -> None:
    user = harness.user()
    await to_summary(user)
    await user.press("✏️ Организация")
    await user.send("ЦРБ")
    results, _ = user.find_button("1. ОБРАЗЕЦ")
    await user.press_data(results, "f:org_search:pick:" + "9" * 30)
    assert user.last_answer_text() == texts.STALE_BUTTON
    await user.press_data(results, "x:" + "9" * 30)  # a forged «Исправить заявку»
    assert user.last_answer_text() == texts.STALE_BUTTON
    assert harness.unanswered_callbacks() == []
    assert await state_of(harness, user) == "Form:org_search"


async def test_new_request_while_asking_a_question_keeps_the_draft(harness: Harness) -> None:
    user = harness.user()
    await through_consent(user)
    await user.send("11223344595")
    await user.send("/help")
    sent = await user.send("/new")
    assert sent[-1].plain == texts.RESUME_PROMPT
    data = await harness.dp.storage.get_data(key(user))
    assert data["snils"] == "112-233-445 95"
    await user.press("▶️ Продолжить")
    assert await state_of(harness, user) == "Form:full_name"


async def test_declining_after_agreeing_stores_nothing(harness: Harness, db: Database) -> None:
    user = harness.user()
    await user.send("/start")
    await user.press("📝 Подать заявку")
    await user.press("✅ Согласен(на)")
    await user.press("⬅️ Назад")
    await user.press("Не согласен(на)")
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Consent)) == 0
    assert await harness.dp.storage.get_data(key(user)) == {}


async def test_consent_states_the_retention_the_job_applies(
    db: Database, role_matrix: RoleMatrix, database_url: str, organizations: None
) -> None:
    settings = make_settings(database_url, retention_days=45)
    h = Harness(build_dispatcher(settings, db, role_matrix))
    user = h.user()
    await user.send("/start")
    sent = await user.press("📝 Подать заявку")
    assert "через 45 дней после её завершения" in sent[-1].plain
    assert "5 лет" not in sent[-1].plain
    await to_summary(h.user(1002))
    await h.user(1002).press("📨 Отправить")
    async with db.read() as session:
        version = await session.scalar(select(Consent.version))
    assert version == f"{texts.CONSENT_VERSION}+45d"  # the period is part of what was agreed
    await h.dp.storage.close()
