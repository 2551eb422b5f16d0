"""Each wrong input gets its own message and the same step again."""

from __future__ import annotations

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot import texts
from tests.support.dialog_steps import through_consent, to_organization
from tests.support.harness import BOT_ID, ChatUser, Harness


def key(user: ChatUser) -> StorageKey:
    return StorageKey(bot_id=BOT_ID, chat_id=user.id, user_id=user.id)


async def state_of(harness: Harness, user: ChatUser) -> str | None:
    return await harness.dp.storage.get_state(key(user))


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("112-233-445 9O", texts.SNILS_NOT_DIGITS),
        ("СНИЛС 1122334459", texts.snils_wrong_length(10)),
        ("112-233-445", texts.snils_wrong_length(9)),
        ("112 233 445 955", texts.snils_wrong_length(12)),
        ("112-233-445 96", texts.SNILS_WRONG_CHECKSUM),
        ("000-000-000 00", texts.SNILS_ALL_ZEROS),
    ],
)
async def test_wrong_snils_keeps_the_step(harness: Harness, answer: str, expected: str) -> None:
    user = harness.user()
    await through_consent(user)
    sent = await user.send(answer)
    reply = sent[-1]
    assert reply.html.startswith(expected)
    assert texts.SNILS_PROMPT in reply.html
    assert await state_of(harness, user) == "Form:snils"
    sent = await user.send("112 233 445 95")
    assert await state_of(harness, user) == "Form:full_name"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Иванова", texts.FIO_TOO_FEW),
        ("Иванова Мария 2", texts.FIO_DIGITS),
        ("Ivanova Maria", texts.FIO_LATIN),
        ("Иванова Мария!", texts.fio_bad_chars(["!"])),
    ],
)
async def test_wrong_name_keeps_the_step(harness: Harness, answer: str, expected: str) -> None:
    user = harness.user()
    await through_consent(user)
    await user.send("11223344595")
    sent = await user.send(answer)
    assert sent[-1].html.startswith(expected)
    assert await state_of(harness, user) == "Form:full_name"


async def test_name_is_shown_back_normalised(harness: Harness) -> None:
    user = harness.user()
    await through_consent(user)
    await user.send("11223344595")
    # a Latin «a» and «o» typed into Cyrillic words, extra spaces, an en dash
    sent = await user.send("  иванoва–петрова   мaрия  ")
    assert "ФИО: <b>Иванова-Петрова Мария</b>" in sent[-1].html
    assert "латинские буквы" in sent[-1].html
    assert await state_of(harness, user) == "Form:email"


async def test_invalid_email(harness: Harness) -> None:
    user = harness.user()
    await through_consent(user)
    await user.send("11223344595")
    await user.send("Иванова Мария")
    for answer in ("ivanova", "ivanova@", "ivan ova@mail.ru", "ivanova@@mail.ru"):
        sent = await user.send(answer)
        assert sent[-1].html.startswith(texts.EMAIL_INVALID), answer
        assert await state_of(harness, user) == "Form:email"
    sent = await user.send("Ivanova@MAIL.RU")
    assert await state_of(harness, user) == "Form:region"


async def test_organization_search_errors(harness: Harness) -> None:
    user = harness.user()
    await to_organization(user)
    sent = await user.send("!")
    assert sent[-1].html.startswith(texts.ORG_QUERY_SHORT)
    sent = await user.send("такой больницы нет")
    assert "ничего не нашлось" in sent[-1].plain
    assert "Нет в списке" in sent[-1].buttons
    assert await state_of(harness, user) == "Form:org_search"


async def test_photo_or_sticker_at_a_text_step_reprompts(harness: Harness) -> None:
    user = harness.user()
    await through_consent(user)
    for kind in ("photo", "sticker"):
        sent = await user.send(None, kind=kind)
        assert sent[-1].html.startswith(texts.SEND_TEXT)
        assert texts.SNILS_PROMPT in sent[-1].html
        assert await state_of(harness, user) == "Form:snils"


async def test_text_at_a_button_step_shows_the_keyboard_again(harness: Harness) -> None:
    user = harness.user()
    await user.send("/start")
    await user.press("📝 Подать заявку")
    sent = await user.send("да согласна")
    assert sent[-1].html.startswith(texts.USE_BUTTONS)
    assert "✅ Согласен(на)" in sent[-1].buttons
    assert await state_of(harness, user) == "Form:consent"


async def test_organization_typed_by_hand_is_escaped_and_flagged(harness: Harness) -> None:
    user = harness.user()
    await to_organization(user)
    await user.send("Нет в базе")
    await user.press("Нет в списке")
    await user.send("ООО «Клиника <Здоровье> & Ко»")
    await user.send("<Клиника & Ко>")
    await user.press("Моей должности нет в списке")
    sent = await user.send("Врач-онколог поликлиники")
    summary = sent[-1]
    assert "ООО «Клиника &lt;Здоровье&gt; &amp; Ко» (&lt;Клиника &amp; Ко&gt;)" in summary.html
    assert "(введено вручную)" in summary.plain
    assert f"Роль: {texts.ROLE_BY_ADMIN}" in summary.plain
    assert harness.session.refusals == []


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Иванова А.С.", texts.FIO_INITIALS),  # not «Лишние символы: .»
        ("Иванова А. С.", texts.FIO_INITIALS),
    ],
)
async def test_initials_ask_for_the_name_in_full(
    harness: Harness, answer: str, expected: str
) -> None:
    user = harness.user()
    await through_consent(user)
    await user.send("11223344595")
    sent = await user.send(answer)
    assert sent[-1].html.startswith(expected)
    assert "Лишние символы" not in sent[-1].plain
    assert await state_of(harness, user) == "Form:full_name"


async def test_a_snils_pasted_with_its_label_is_taken(harness: Harness) -> None:
    user = harness.user()
    await through_consent(user)
    await user.send("СНИЛС: 112-233-445 95")
    assert await state_of(harness, user) == "Form:full_name"


async def test_a_name_is_kept_as_in_gosuslugi(harness: Harness) -> None:
    user = harness.user()
    await through_consent(user)
    await user.send("11223344595")
    sent = await user.send("Д'Арк-Иванова Жанна")
    assert "ФИО: Д'Арк-Иванова Жанна" in sent[-1].plain


@pytest.mark.parametrize(
    ("answer", "underlined"),
    [
        ("ivanova@почта.рф", "п"),  # an IDN domain, against «латинскими буквами»
        ("ivanova@exаmple.ru", "а"),  # a Cyrillic «а» among Latin letters
        ("ivanova@xn--80a1acny.xn--p1ai", None),  # the IDN spelt in ASCII
    ],
)
async def test_a_non_latin_email_is_refused_with_the_letters_shown(
    harness: Harness, answer: str, underlined: str | None
) -> None:
    user = harness.user()
    await through_consent(user)
    await user.send("11223344595")
    await user.send("Иванова Мария")
    sent = await user.send(answer)
    assert "латинскими буквами" in sent[-1].plain
    assert "почта.рф" in sent[-1].plain  # the message names the case of Russian domains
    if underlined:
        assert f"<u><b>{underlined}</b></u>" in sent[-1].html
    assert await state_of(harness, user) == "Form:email"
    await user.send("ivanova@example.ru")
    assert await state_of(harness, user) == "Form:region"
    assert harness.session.refusals == []
