"""End to end: the real bot process, a Bot API stand-in that fails the form's replies — a 500,
a timeout, a dropped connection before or after Telegram took the call — and a person who
does what people do when an answer does not come. Every request ends whole: each field what
the person typed, nothing typed twice in the wrong field."""

from __future__ import annotations

from sqlalchemy import select

from bot import texts
from db.database import Database
from db.models import AccessRequest
from tests.e2e.standin import BotApiStandin
from tests.e2e.support import BotProcess, Person

USER = 5550101
ORG = "ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»"
POSITION = "Главный врач / заместитель глав.врача ЦРБ (МО) муниципального образования"
# (what the person does, what they type or press, a word of the prompt it brings)
WALK = [
    ("press", "📝 Подать заявку", "Согласие на обработку"),
    ("press", "✅ Согласен(на)", "подтверждённая"),
    ("press", "Да", "Вход на портал ЕГИСЗ"),
    ("press", "✅ Готово", "СНИЛС"),
    ("say", "112 233 445 95", "фамилию, имя и отчество"),
    ("say", "иванова мария петровна", "электронной почты"),
    ("say", "ivanova@example.ru", "Субъект РФ"),
    ("press", "✅ Да, верно", "медицинскую организацию"),
    ("say", "ЦРБ", "найдено"),
    ("press", f"1. {ORG}", "должность"),
    ("press", "3. Главный врач", "несколько ролей"),
    ("press", "Куратор 2 уровня", "Проверьте заявку"),
]
TRIES = 3  # a direct reply's first try and its two quick retries (bot/session.py)


def _env(bot_env: dict[str, str]) -> dict[str, str]:
    # A timeout costs a second here, not Telegram's default twenty.
    return {**bot_env, "TELEGRAM_TIMEOUT": "1"}


async def _act(me: Person, kind: str, value: str, expect: str) -> None:
    if kind == "say":
        await me.says(value, expect)
    else:
        await me.presses(value, expect)


async def _request(db: Database) -> AccessRequest:
    async with db.read() as session:
        return (await session.scalars(select(AccessRequest))).one()


def _whole(row: AccessRequest) -> None:
    assert row.status == "submitted"
    assert (row.snils, row.full_name, row.email) == (
        "112-233-445 95",
        "Иванова Мария Петровна",
        "ivanova@example.ru",
    )
    assert row.region == "Костромская область"
    assert row.org_short_name == ORG and row.position == POSITION
    assert row.role == "Куратор 2 уровня"


async def test_every_prompt_failing_once_is_carried_by_the_quick_retries(
    standin: BotApiStandin, bot_env: dict[str, str], db: Database, organizations: None
) -> None:
    standin.timeout_hold = 2.0
    bot = BotProcess(_env(bot_env))
    await bot.start(standin)
    kinds = ["500", "timeout", "drop", "drop_after"]
    try:
        me = Person(standin, USER)
        await me.says("/start", "ВИМИС ОНКО")
        for index, (kind, value, expect) in enumerate(WALK):
            standin.fail("sendMessage", USER, kinds[index % len(kinds)])
            await _act(me, kind, value, expect)
        await me.presses("📨 Отправить", "отправлена")
    finally:
        code, output = await bot.stop()
    assert code == 0, output
    assert texts.UNEXPECTED_ERROR not in [r.text for r in standin.sent]
    _whole(await _request(db))
    assert standin.unanswered_callbacks() == []


async def test_prompts_that_never_arrive_are_shown_again(
    standin: BotApiStandin, bot_env: dict[str, str], db: Database, organizations: None
) -> None:
    """The SNILS's next prompt, the region's (a press) and the role's fail past the retries:
    the person is told, does the same thing again, is shown the step, and goes on."""
    standin.timeout_hold = 2.0
    bot = BotProcess(_env(bot_env))
    await bot.start(standin)
    failing = {4: "500", 7: "drop", 11: "timeout"}
    try:
        me = Person(standin, USER)
        await me.says("/start", "ВИМИС ОНКО")
        for index, (kind, value, expect) in enumerate(WALK):
            fault = failing.get(index)
            if fault is None:
                await _act(me, kind, value, expect)
                continue
            standin.fail("sendMessage", USER, *[fault] * TRIES)
            await _act(me, kind, value, "сбой связи")
            await _act(me, kind, value, texts.PROMPT_AGAIN[:40])
            assert expect in (standin.last_message(USER).text or "")
        await me.presses("📨 Отправить", "отправлена")
    finally:
        code, output = await bot.stop()
    assert code == 0, output
    _whole(await _request(db))
    assert standin.unanswered_callbacks() == []
    assert [e for e in standin.errors if "not modified" in e.description] == []
