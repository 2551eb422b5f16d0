"""The position and role steps, Back to the screen seen before, and the help screens (issue 15,
points 5, 9 and 10)."""

from __future__ import annotations

from sqlalchemy import select

from bot import texts
from db.database import Database
from db.models import AccessRequest
from tests.support.dialog_steps import to_organization
from tests.support.harness import ChatUser, Harness, Sent
from tests.test_dialog_validation import state_of

FEDERAL_POST = "Министр здравоохранения РФ"
CHIEF_DOCTOR = "3. Главный врач / заместитель глав.врача ЦРБ (МО)"


async def to_position(user: ChatUser) -> Sent:
    await to_organization(user)
    await user.send("ЦРБ")
    sent = await user.press("1. ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»")
    return sent[-1]


async def test_the_way_out_comes_first_and_federal_posts_wait(harness: Harness) -> None:
    user = harness.user()
    screen = await to_position(user)
    assert screen.buttons[0] == texts.BTN_POSITION_OTHER  # most applicants are not curators
    assert "медицинская сестра" in screen.plain  # and the prompt says for whom it is
    assert FEDERAL_POST not in screen.plain
    assert texts.BTN_POSITIONS_FEDERAL in screen.buttons
    assert not any(b.startswith("1/") for b in screen.buttons)  # one page, no pager
    assert len(screen.plain) < 1500

    sent = await user.press(texts.BTN_POSITIONS_FEDERAL)
    assert f"19. {FEDERAL_POST}" in sent[-1].plain
    assert texts.BTN_POSITION_OTHER not in sent[-1].buttons
    sent = await user.press(texts.BTN_BACK)  # back to the list, not to the organisation
    assert await state_of(harness, user) == "Form:position"
    assert FEDERAL_POST not in sent[-1].plain and texts.BTN_POSITIONS_FEDERAL in sent[-1].buttons
    await user.press(texts.BTN_POSITIONS_FEDERAL)
    sent = await user.press(f"19. {FEDERAL_POST}")
    assert "Куратор 5 уровня" in sent[-1].plain
    assert harness.unanswered_callbacks() == [] and harness.session.refusals == []


async def test_a_typed_position_not_in_the_matrix_is_taken_for_the_admin(
    harness: Harness, db: Database
) -> None:
    user = harness.user()
    await to_position(user)
    sent = await user.send("Врач-онколог поликлиники")
    assert "Должность: <b>Врач-онколог поликлиники</b>" in sent[-1].html
    assert await state_of(harness, user) == "Form:summary"  # the role is the admin's
    assert f"Роль: {texts.ROLE_BY_ADMIN}" in sent[-1].plain
    assert "Врач-онколог поликлиники (введено вручную)" in sent[-1].plain
    await user.press(texts.BTN_SUBMIT)
    async with db.read() as session:
        request = (await session.scalars(select(AccessRequest))).one()
    assert (request.position, request.position_in_matrix, request.role) == (
        "Врач-онколог поликлиники",
        False,
        None,
    )


async def test_a_typed_position_that_fits_the_matrix_is_offered(harness: Harness) -> None:
    user = harness.user()
    await to_position(user)
    sent = await user.send("заместитель главного врача по лечебной работе")
    offer = sent[-1]
    assert await state_of(harness, user) == "Form:position"
    assert "Похоже, эта должность есть в матрице" in offer.plain
    assert offer.buttons[0].startswith(CHIEF_DOCTOR)
    assert offer.buttons[1] == texts.BTN_KEEP_POSITION
    sent = await user.press(texts.BTN_BACK)  # back to the list
    assert texts.BTN_POSITIONS_FEDERAL in sent[-1].buttons
    await user.send("заместитель главного врача по лечебной работе")
    sent = await user.press("3. Главный врач")
    assert await state_of(harness, user) == "Form:role"
    assert "Куратор 2 уровня" in sent[-1].plain

    await user.press(texts.BTN_BACK)
    await user.send("заместитель главного врача по лечебной работе")
    sent = await user.press(texts.BTN_KEEP_POSITION)
    assert await state_of(harness, user) == "Form:summary"
    assert "заместитель главного врача по лечебной работе (введено вручную)" in sent[-1].plain


async def test_the_position_typed_after_the_way_out_is_matched_too(harness: Harness) -> None:
    user = harness.user()
    await to_position(user)
    await user.press(texts.BTN_POSITION_OTHER)
    sent = await user.send("Главный врач")
    assert "Похоже, эта должность есть в матрице" in sent[-1].plain
    sent = await user.press("3. Главный врач")
    assert await state_of(harness, user) == "Form:role"


async def test_each_level_says_whose_data_it_opens(harness: Harness) -> None:
    user = harness.user()
    await to_position(user)
    sent = await user.press("2. Руководитель / заместитель руководителя онкологического")
    text = sent[-1].plain
    for role, level in (
        ("Куратор 3 уровня", "Субъект РФ"),
        ("Куратор 2 уровня", "Муниципальное образование РФ"),
        ("Куратор 1 уровня", "Медицинская организация РФ"),
    ):
        assert f"{role} — {level}: {texts.LEVEL_SCOPES[level]}" in text


async def test_help_screens_speak_plainly_and_ask_once(harness: Harness) -> None:
    user = harness.user()
    await user.send("/start")
    await user.press(texts.BTN_NEW)
    await user.press(texts.BTN_AGREE)
    sent = await user.press("Да")
    assert sent[-1].plain.startswith("Вход на портал ЕГИСЗ через Госуслуги")
    assert "Первый вход в ЕСИА" not in sent[-1].plain
    sent = await user.press(texts.BTN_TROUBLE)
    asks = [b for b in sent[-1].buttons if b in (texts.BTN_ASK, texts.BTN_STEP_HELP)]
    assert asks == [texts.BTN_ASK]
    sent = await user.press(texts.BTN_BACK)  # from the causes back to the step
    assert await state_of(harness, user) == "Form:esia"
    assert sent[-1].plain.startswith("Вход на портал ЕГИСЗ через Госуслуги")


async def test_back_from_the_gosuslugi_advice_returns_to_the_question(harness: Harness) -> None:
    user = harness.user()
    await user.send("/start")
    await user.press(texts.BTN_NEW)
    await user.press(texts.BTN_AGREE)
    await user.press("Нет")
    sent = await user.press(texts.BTN_BACK)
    assert await state_of(harness, user) == "Form:gosuslugi"
    assert sent[-1].html.startswith(texts.GOSUSLUGI)
    sent = await user.press(texts.BTN_BACK)  # and from the question, to consent
    assert await state_of(harness, user) == "Form:consent"


async def test_back_from_organisation_results_returns_to_the_search(harness: Harness) -> None:
    user = harness.user()
    await to_organization(user)
    await user.send("ЦРБ")
    sent = await user.press(texts.BTN_BACK)
    assert await state_of(harness, user) == "Form:org_search"
    assert sent[-1].html.startswith(texts.ORG_PROMPT)
    await user.press(texts.BTN_BACK)
    assert await state_of(harness, user) == "Form:region"
    sent = await user.press(texts.BTN_REGION_OK)
    assert sent[-1].html.startswith(texts.ORG_PROMPT)  # a fresh search, not the old results
    assert "найдено" not in sent[-1].plain
