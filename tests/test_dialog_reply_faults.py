"""A reply that fails to arrive loses nothing (the form's answers are written before the reply
is sent), and the person's next message or press shows the step again instead of being
taken as its answer.

Every prompt of the form is failed in turn — a 500, a timeout, a dropped connection — through
the real dispatcher: once so that the quick retries of a direct reply carry it, once past them
so that the bot gives up. The person then does what people do (types the last answer again,
or presses the last button again), and the request that comes out at the end holds exactly
what they typed, every field in its place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from aiogram.methods import AnswerCallbackQuery, SendMessage
from sqlalchemy import select

from bot import texts
from bot.session import REPLY_RETRY_DELAYS
from db.database import Database
from db.models import AccessRequest
from tests.support.admin import admin, request_row, submitted
from tests.support.dialog_steps import POSITION
from tests.support.harness import ChatUser, Harness

TRIES = 1 + len(REPLY_RETRY_DELAYS)
ORG = "ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»"


@dataclass(frozen=True)
class Answer:
    """One thing the person does, and a word of the prompt it should bring."""

    kind: str  # "send" | "press"
    value: str
    expect: str

    async def do(self, user: ChatUser) -> None:
        if self.kind == "send":
            await user.send(self.value)
        else:
            await user.press(self.value)


WALK = [
    Answer("press", "📝 Подать заявку", "Согласие"),
    Answer("press", "✅ Согласен(на)", "Госуслуг"),
    Answer("press", "Да", "ЕГИСЗ"),
    Answer("press", "✅ Готово", "СНИЛС"),
    Answer("send", "112 233 445 95", "фамилию, имя и отчество"),
    Answer("send", "иванова мария петровна", "электронной почты"),
    Answer("send", "ivanova@example.ru", "Субъект РФ"),
    Answer("press", "✅ Да, верно", "медицинскую организацию"),
    Answer("send", "ЦРБ", "найдено"),
    Answer("press", f"1. {ORG}", "должность"),
    Answer("press", "3. Главный врач", "несколько ролей"),
    Answer("press", "Куратор 2 уровня", "Проверьте заявку"),
]


async def _only_request(db: Database) -> AccessRequest:
    async with db.read() as session:
        rows = list(await session.scalars(select(AccessRequest)))
    assert len(rows) == 1, f"{len(rows)} requests"
    return rows[0]


def _check_request(row: AccessRequest) -> None:
    assert row.status == "submitted"
    assert row.snils == "112-233-445 95"
    assert row.full_name == "Иванова Мария Петровна"
    assert row.email == "ivanova@example.ru"
    assert row.region == "Костромская область"
    assert row.org_short_name == ORG and not row.org_manual
    assert row.position == POSITION and row.position_in_matrix
    assert row.role == "Куратор 2 уровня" and row.role_level


async def _walk(
    h: Harness,
    user: ChatUser,
    at: int,
    fault: str,
    times: int,
    after: Callable[[], Awaitable[None]],
) -> None:
    await user.send("/start")
    for index, answer in enumerate(WALK):
        if index == at:
            h.session.fail(SendMessage, user.id, *[fault] * times)
            await answer.do(user)
            await after()
        else:
            await answer.do(user)
        assert answer.expect in user.last.plain, (index, user.last.plain)
    await user.press(texts.BTN_SUBMIT)


@pytest.mark.parametrize("fault", ["500", "timeout", "drop"])
@pytest.mark.parametrize("at", range(len(WALK)), ids=[a.value[:12] for a in WALK])
async def test_a_prompt_that_fails_past_the_retries_is_shown_again(
    harness: Harness, db: Database, at: int, fault: str
) -> None:
    user = harness.user()
    answer = WALK[at]

    async def the_person_tries_again() -> None:
        # The bot gave up on the prompt and said so; the person does the last thing again.
        assert user.last.plain == texts.UNEXPECTED_ERROR
        before = len(harness.session.log)
        await answer.do(user)
        shown = [s for s in harness.session.log[before:] if s.chat_id == user.id]
        assert shown, "nothing shown after the second try"
        # The step the first answer led to, shown again; nothing taken from the retry.
        assert texts.PROMPT_AGAIN in user.last.plain or at == 0, user.last.plain

    await _walk(harness, user, at, fault, TRIES, the_person_tries_again)
    _check_request(await _only_request(db))
    assert harness.unanswered_callbacks() == []


@pytest.mark.parametrize("fault", ["500", "timeout", "drop", "drop_after", "429"])
@pytest.mark.parametrize("at", range(len(WALK)), ids=[a.value[:12] for a in WALK])
async def test_a_prompt_that_fails_once_arrives_by_the_quick_retries(
    harness: Harness, db: Database, at: int, fault: str
) -> None:
    user = harness.user()

    async def nothing() -> None:
        assert texts.UNEXPECTED_ERROR not in user.last.plain

    await _walk(harness, user, at, fault, TRIES - 1, nothing)
    _check_request(await _only_request(db))


@pytest.mark.parametrize("fault", ["500", "timeout", "drop"])
async def test_a_press_whose_answer_fails_past_the_retries_is_still_taken_silently(
    harness: Harness, db: Database, fault: str
) -> None:
    """The answer to a button press goes after its handler; when it cannot be sent, the press
    has done its work all the same: the next step is shown and nobody is told that
    something failed."""
    user = harness.user()

    async def nothing_said() -> None:
        assert all(texts.UNEXPECTED_ERROR not in s.plain for s in harness.session.in_chat(user.id))

    pressed = next(i for i, a in enumerate(WALK) if a.value == "✅ Да, верно")
    await user.send("/start")
    for index, answer in enumerate(WALK):
        if index == pressed:
            harness.session.fail(AnswerCallbackQuery, None, *[fault] * TRIES)
        await answer.do(user)
        assert answer.expect in user.last.plain, (index, user.last.plain)
        await nothing_said()
    assert [m for m, _ in harness.session.injected] == ["AnswerCallbackQuery"] * TRIES
    await user.press(texts.BTN_SUBMIT)
    _check_request(await _only_request(db))
    assert len(harness.unanswered_callbacks()) == 1  # that one answer, given up


async def test_a_retyped_answer_never_fills_the_next_field(harness: Harness, db: Database) -> None:
    """The organisation typed by hand: the short name's answer fails to bring the position
    step; the short name typed again must not become the position."""
    user = harness.user()
    await user.send("/start")
    for answer in WALK[:8]:
        await answer.do(user)
    await user.send("нет такой")
    await user.press("Нет в списке")
    await user.send("Областное государственное бюджетное учреждение здравоохранения КОД")
    harness.session.fail(SendMessage, user.id, *["500"] * TRIES)
    await user.send("ОГБУЗ КОД")
    assert user.last.plain == texts.UNEXPECTED_ERROR
    await user.send("ОГБУЗ КОД")
    assert texts.PROMPT_AGAIN in user.last.plain and "должность" in user.last.plain
    await user.send("заместитель главного врача по медицинской части")
    if "✍️ Оставить как написал(а)" in user.last.buttons:  # the matrix has a similar post
        await user.press("✍️ Оставить как написал(а)")
    assert "Проверьте заявку" in user.last.plain
    await user.press(texts.BTN_SUBMIT)
    row = await _only_request(db)
    assert row.org_short_name == "ОГБУЗ КОД" and row.org_manual
    assert row.position == "заместитель главного врача по медицинской части"


async def test_a_draft_saved_without_an_answer_asks_for_it_by_name(
    harness: Harness, db: Database
) -> None:
    """A draft that an older version saved without the SNILS (the state moved on, the data did
    not): «Отправить» names the field and asks for it, the request goes out complete."""
    user = harness.user()
    await user.send("/start")
    for answer in WALK:
        await answer.do(user)
    key = next(iter(harness.dp.storage._cache))  # type: ignore[attr-defined]
    entry = harness.dp.storage._cache[key]  # type: ignore[attr-defined]
    entry.data["snils"] = None
    sent = await user.press(texts.BTN_SUBMIT)
    assert texts.field_missing("СНИЛС") in sent[-1].plain
    assert "Введите ваш СНИЛС" in sent[-1].plain or "СНИЛС" in sent[-1].plain
    await user.send("112 233 445 95")
    assert "Проверьте заявку" in user.last.plain and "СНИЛС: 112-233-445 95" in user.last.plain
    await user.press(texts.BTN_SUBMIT)
    _check_request(await _only_request(db))


FIX_WALK = [
    Answer("press", "✏️ Исправить заявку № 1", "фамилию, имя и отчество"),
    Answer("send", "Иванова-Петрова Мария Петровна", "электронной почты"),
    Answer("send", "m.ivanova@example.ru", "Проверьте заявку"),
]


@pytest.mark.parametrize("fault", ["500", "timeout", "drop"])
@pytest.mark.parametrize("at", range(len(FIX_WALK)))
async def test_a_correction_keeps_every_answer_when_a_prompt_fails(
    h: Harness, db: Database, at: int, fault: str
) -> None:
    applicant = await submitted(h)
    boss = admin(h)
    await boss.press(texts.BTN_RETURN)
    await boss.press("▫️ ФИО")
    await boss.press("▫️ Эл. почта")
    await boss.press(texts.BTN_NEXT)
    await boss.reply("Укажите ФИО как в Госуслугах и личную почту")
    for index, answer in enumerate(FIX_WALK):
        if index == at:
            h.session.fail(SendMessage, applicant.id, *[fault] * TRIES)
            await answer.do(applicant)
            assert applicant.last.plain == texts.UNEXPECTED_ERROR
            await answer.do(applicant)
            assert texts.PROMPT_AGAIN in applicant.last.plain or index == 0
        else:
            await answer.do(applicant)
        assert answer.expect in applicant.last.plain, (index, applicant.last.plain)
    await applicant.press(texts.BTN_SUBMIT)
    row = await request_row(db)
    assert row.status == "submitted"
    assert row.full_name == "Иванова-Петрова Мария Петровна"
    assert row.email == "m.ivanova@example.ru"
    assert row.snils == "112-233-445 95"
