"""End to end on two messengers: the real `python -m bot` process with BOT_TOKEN and MAX_TOKEN,
against the Telegram Bot API stand-in and the MAX Bot API stand-in at once, over HTTP.

An applicant on MAX walks the whole request, the admin decides on Telegram, the applicant is
told on MAX; a question asked on MAX is answered from the Telegram support topic and the answer
comes back; faults on MAX's side lose nothing; a restart in the middle of a MAX dialog resumes
it; a MAX user and a Telegram user with the same number never mix."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from sqlalchemy import select

from db.database import Database
from db.models import AccessRequest
from services.accounts import Messenger, account_key
from tests.e2e.max_standin import MaxApiStandin
from tests.e2e.max_standin import SentRecord as MaxRecord
from tests.e2e.standin import BotApiStandin
from tests.e2e.support import MAX_TOKEN, BotProcess, Person, free_port

ADMIN = 900001
SUPPORT = -1009876543210
SAME = 5550077  # a MAX user and a Telegram user both numbered so


@pytest.fixture
def max_env(bot_env: dict[str, str], mx: MaxApiStandin) -> dict[str, str]:
    return {**bot_env, "MAX_TOKEN": MAX_TOKEN, "MAX_API_URL": mx.url, "MAX_TIMEOUT": "5"}


class MaxPerson:
    """Someone writing to the bot in their MAX dialog."""

    def __init__(self, mx: MaxApiStandin, user_id: int, name: str = "Мария") -> None:
        self.mx = mx
        self.user_id = user_id
        self.chat_id = mx.introduce(user_id, name)

    async def expect(self, mark: int, contains: str) -> MaxRecord:
        return await self.mx.wait_for_message(
            self.chat_id, lambda r: contains in (r.text or ""), timeout=20, after=mark
        )

    async def starts(self, expect: str, payload: str | None = None) -> MaxRecord:
        mark = len(self.mx.sent)
        self.mx.push_bot_started(self.user_id, payload)
        return await self.expect(mark, expect)

    async def says(self, text: str, expect: str) -> MaxRecord:
        mark = len(self.mx.sent)
        self.mx.push_message(self.user_id, text)
        return await self.expect(mark, expect)

    async def presses(self, button: str, expect: str) -> MaxRecord:
        mark = len(self.mx.sent)
        self.mx.press(self.user_id, button)
        return await self.expect(mark, expect)


async def start_both(bot: BotProcess, standin: BotApiStandin, mx: MaxApiStandin) -> None:
    """Start the process; up when both messengers have its commands."""
    await bot.start(standin)
    async with asyncio.timeout(30):
        while not mx.commands:  # noqa: ASYNC110 - the bot is another process
            await asyncio.sleep(0.05)


async def walk_form(me: MaxPerson, snils: str = "112 233 445 95") -> MaxRecord:
    """From the greeting to the sent request, as the Telegram e2e test walks it."""
    await me.starts("ВИМИС ОНКО")
    await me.presses("📝 Подать заявку", "Согласие на обработку персональных данных")
    await me.presses("✅ Согласен(на)", "подтверждённая")
    esia = await me.presses("Да", "Вход на портал ЕГИСЗ через Госуслуги")
    assert "https://ia.egisz.rosminzdrav.ru/" in esia.urls
    await me.presses("✅ Готово", "СНИЛС")
    await me.says("112-233-445 96", "Контрольное число")
    await me.says(snils, "фамилию, имя и отчество")
    await me.says("иванова мария петровна", "электронной почты")
    await me.says("ivanova@example.ru", "Субъект РФ")
    await me.presses("✅ Да, верно", "медицинскую организацию")
    await me.says("Клиника", "ничего не нашлось")
    await me.presses("Нет в списке", "полное наименование")
    await me.says("ООО «Клиника <Здоровье> & Ко»", "краткое наименование")
    await me.says("<Клиника & Ко>", "должность")
    await me.presses("Моей должности нет в списке", "Напишите вашу должность")
    summary = await me.says("Врач-онколог & <заведующий>", "Проверьте заявку")
    assert "ООО «Клиника <Здоровье> & Ко» (<Клиника & Ко>)" in (summary.text or "")
    return await me.presses("📨 Отправить", "отправлена")


async def walk_form_from_directory(me: MaxPerson) -> MaxRecord:
    """The matrix path: an organisation of the directory, a listed post, its role."""
    await me.starts("ВИМИС ОНКО")
    await me.presses("📝 Подать заявку", "Согласие на обработку персональных данных")
    await me.presses("✅ Согласен(на)", "подтверждённая")
    await me.presses("Да", "Вход на портал ЕГИСЗ через Госуслуги")
    await me.presses("✅ Готово", "СНИЛС")
    await me.says("006-012-788 00", "фамилию, имя и отчество")
    await me.says("Смирнов Олег", "электронной почты")
    await me.says("oleg@example.ru", "Субъект РФ")
    await me.presses("✅ Да, верно", "медицинскую организацию")
    await me.says("онкодиспансер", "найдено: 1")
    await me.presses("1. ОБРАЗЕЦ ОГБУЗ «Условный онкодиспансер №1»", "должность")
    await me.presses("1. Сотрудник организационно-методического", "Подтвердите роль")
    await me.presses("✅ Подтверждаю", "Проверьте заявку")
    return await me.presses("📨 Отправить", "отправлена")


def clean(mx: MaxApiStandin, standin: BotApiStandin) -> None:
    """Neither messenger refused anything, and MAX dropped no markup."""
    assert mx.errors == [], [f"{e.method} {e.path}: {e.code} {e.message}" for e in mx.errors]
    assert mx.stripped_tags == []
    assert standin.errors == [], [e.description for e in standin.errors]


@pytest.mark.usefixtures("directory")
async def test_max_applicant_submits_admin_approves_on_telegram_applicant_told_on_max(
    standin: BotApiStandin, mx: MaxApiStandin, max_env: dict[str, str], db: Database
) -> None:
    bot = BotProcess(max_env)
    await start_both(bot, standin, mx)
    try:
        commands = mx.commands
        assert {c["name"] for c in commands} >= {"start", "my", "help", "withdraw", "mydata"}
        me = MaxPerson(mx, SAME)
        done = await walk_form_from_directory(me)
        admin = Person(standin, ADMIN, "Админ")
        card = await standin.wait_for_message(
            ADMIN, lambda r: "Заявка №" in (r.text or ""), timeout=20
        )
        assert "Мессенджер: MAX" in (card.text or "")
        mark = len(mx.sent)
        await admin.presses("✅ Одобрить", "Одобрена")
        told = await me.expect(mark, "одобрена")
        await me.says("/my", "одобрена")
    finally:
        code, output = await bot.stop()
    assert code == 0, output
    clean(mx, standin)
    for secret in ("006-012-788 00", "00601278800", "oleg@example.ru", "Смирнов"):
        assert secret not in output, f"personal data in the log: {secret}"
    async with db.read() as session:
        request = (await session.scalars(select(AccessRequest))).one()
    assert request.account_id == account_key(Messenger.MAX, SAME)
    assert request.status == "approved"
    assert f"№ {request.id}" in (done.text or "") and f"№ {request.id}" in (told.text or "")


async def test_a_question_from_max_is_answered_from_the_telegram_topic(
    standin: BotApiStandin, mx: MaxApiStandin, max_env: dict[str, str]
) -> None:
    standin.forum_chats.add(SUPPORT)
    max_env.update(SUPPORT_HOURS="00:00-23:59", SUPPORT_DAYS="1-7")
    bot = BotProcess(max_env)
    await start_both(bot, standin, mx)
    try:
        me = MaxPerson(mx, SAME)
        await me.starts("ВИМИС ОНКО")
        # Typed straight after the greeting: offered to the operators, sent with one press
        # (the button carries MAX's message number, far past Telegram's).
        await me.says("Не открывается портал ЕГИСЗ & <что делать>?", "Похоже, это вопрос")
        mark_tg = len(standin.sent)
        await me.presses("📨 Передать вопрос специалисту", "специалист")
        relayed = await standin.wait_for_message(
            SUPPORT, lambda r: "Не открывается портал" in (r.text or ""), timeout=20, after=mark_tg
        )
        assert "Не открывается портал ЕГИСЗ & <что делать>?" in (relayed.text or "")
        assert relayed.method == "sendMessage"  # nothing to copy from: the content is carried
        topic = relayed.message_thread_id
        assert topic is not None
        mark = len(mx.sent)
        standin.push_message(
            ADMIN,
            "Очистите кэш браузера <b>и</b> войдите снова",
            chat_id=SUPPORT,
            message_thread_id=topic,
        )
        answer = await me.expect(mark, "Очистите кэш браузера")
        assert "<b>и</b>" in (answer.text or "")  # the operator's text, escaped, not markup
    finally:
        code, output = await bot.stop()
    assert code == 0, output
    clean(mx, standin)
    assert "Не открывается" not in output


async def test_faults_on_max_lose_nothing_and_a_restart_resumes_the_dialog(
    standin: BotApiStandin, mx: MaxApiStandin, max_env: dict[str, str], db: Database
) -> None:
    me_id = 5550123
    bot = BotProcess(max_env)
    await start_both(bot, standin, mx)
    me = MaxPerson(mx, me_id)
    try:
        await me.starts("ВИМИС ОНКО")
        await me.presses("📝 Подать заявку", "Согласие")
        await me.presses("✅ Согласен(на)", "подтверждённая")
        # MAX answers 500, then drops the connection: the reply is tried again and comes.
        mx.fail("POST /messages", None, "500", "drop")
        await me.presses("Да", "Вход на портал ЕГИСЗ через Госуслуги")
        # MAX asks to slow down: the reply waits a moment and comes.
        mx.fail("POST /messages", None, "429")
        await me.presses("✅ Готово", "СНИЛС")
        await me.says("112 233 445 95", "фамилию, имя и отчество")
        # The dialog's state is written a moment after the reply (bot/fsm/storage.py: a crash
        # loses at most that moment, and the person repeats one answer); past it, nothing.
        await asyncio.sleep(0.5)
    finally:
        bot.kill()  # a crash mid-dialog: no shutdown at all
        await bot.stop()
    bot = BotProcess(max_env)
    await start_both(bot, standin, mx)
    try:
        # The dialog resumes where the data say: the next answer is the name.
        await me.says("иванова мария петровна", "электронной почты")
    finally:
        code, output = await bot.stop()
    assert code == 0, output
    assert [e.code for e in mx.errors] == ["internal.error", "too.many.requests"]  # as injected


async def test_the_same_number_on_both_messengers_is_two_people(
    standin: BotApiStandin, mx: MaxApiStandin, max_env: dict[str, str], db: Database
) -> None:
    bot = BotProcess(max_env)
    await start_both(bot, standin, mx)
    try:
        on_max = MaxPerson(mx, SAME)
        await walk_form(on_max)
        on_telegram = Person(standin, SAME)
        await on_telegram.says("/my", "заявок")  # the Telegram one has none
        assert "№" not in (standin.last_message(SAME).text or "")
        await on_telegram.says("/start", "ВИМИС ОНКО")
        await on_telegram.presses("📝 Подать заявку", "Согласие на обработку")  # asked again
        card = await standin.wait_for_message(
            ADMIN, lambda r: "Мессенджер: MAX" in (r.text or ""), timeout=20
        )
        assert card is not None
    finally:
        code, output = await bot.stop()
    assert code == 0, output
    clean(mx, standin)


async def test_max_webhook_refuses_a_push_without_its_secret_and_healthz_reports_max(
    standin: BotApiStandin,
    mx: MaxApiStandin,
    max_env: dict[str, str],
) -> None:
    port = free_port()
    listen = f"127.0.0.1:{port}"
    url = f"http://127.0.0.1:{port}/max"
    env = {
        **max_env,
        "MAX_WEBHOOK_URL": url,
        "MAX_WEBHOOK_SECRET": "max-secret-42",
        "WEBHOOK_LISTEN": listen,
    }
    bot = BotProcess(env)
    await start_both(bot, standin, mx)
    try:
        async with asyncio.timeout(20):
            while not mx.subscriptions:  # noqa: ASYNC110 - the bot is another process
                await asyncio.sleep(0.05)
        me = MaxPerson(mx, SAME)
        await me.starts("ВИМИС ОНКО")  # through the webhook, secret and all
        async with aiohttp.ClientSession() as http:
            forged = {"update_type": "bot_started", "timestamp": 1, "user": {"user_id": 1}}
            async with http.post(url, json=forged) as response:
                assert response.status in (401, 403)
            async with http.post(
                url, json=forged, headers={"X-Max-Bot-Api-Secret": "wrong-secret"}
            ) as response:
                assert response.status in (401, 403)
            async with http.get(f"http://{listen}/healthz") as response:
                health = await response.json()
        assert health["max"]["connected"] is True
    finally:
        code, output = await bot.stop()
    assert code == 0, output
