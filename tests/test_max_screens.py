"""Every screen and notice an applicant can get, walked on MAX and checked against MAX's
limits (the MAX issue: «A test walks every screen and notice an applicant can get and checks
each against MAX's limits, as the tests already do for Telegram's»).

Each step is taken twice: by a person on MAX (tests/support/max_harness.py: the real dispatcher, the
MAX session over HTTP, the MAX stand-in refusing what MAX refuses) and by their twin on
Telegram (tests/support/harness.py, a database of its own, so request numbers and texts agree).
After every step: MAX refused nothing, stripped no tag, saw no edit that changed nothing,
every press was answered, no call raised (not even one a handler swallowed), nothing for
the person is left in the outbox, and the person reads on MAX the words the twin reads on
Telegram, with the same buttons.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot import texts
from bot.dispatcher import build_dispatcher
from bot.handlers.applicant import mydata as mydata_handler
from bot.outbound.reminders import send_due
from db.database import Database
from db.migrate import upgrade_to_head
from db.models import SupportThread
from services import requests, staff
from services.organizations import import_rows, read_rows
from services.requests import Status
from services.role_matrix import RoleMatrix
from services.snils import check_number, format_snils
from tests.conftest import (
    ADMIN2_ID,
    ADMIN_CHAT,
    ADMIN_ID,
    SAMPLE_ORGS,
    SUPPORT_CHAT_ID,
    make_settings,
)
from tests.support.admin import admin
from tests.support.harness import BOT_ID, ChatUser, Harness
from tests.support.max_harness import MaxHarness, MaxPerson, Shown, max_harness, same_words
from tests.support.org import RESP_A1, responsible
from tests.support.telegram_rules import NOT_MODIFIED
from tests.test_dialog_question import OPERATOR_ID
from tests.test_requests_service import NEW

DEADLINE = date(2026, 12, 20)
USER = 1001


def _settings(database_url: str, **overrides: Any) -> Any:
    return make_settings(
        database_url,
        admin_chat_id=ADMIN_CHAT,
        admin_ids=[ADMIN_ID, ADMIN2_ID],
        deadline=DEADLINE,
        **overrides,
    )


@pytest.fixture
async def mh(
    db: Database, database_url: str, role_matrix: RoleMatrix, organizations: None
) -> AsyncIterator[MaxHarness]:
    async with max_harness(db, _settings(database_url), role_matrix) as harness:
        yield harness


@pytest.fixture
async def twin(tmp_path: Path, role_matrix: RoleMatrix) -> AsyncIterator[Harness]:
    """The same bot on Telegram, over a database of its own."""
    folder = tmp_path / "twin"
    folder.mkdir()
    url = f"sqlite+aiosqlite:///{folder / 'twin.db'}"
    database = Database(url)
    await upgrade_to_head(database)
    settings = _settings(url)
    async with database.write() as session:
        await import_rows(session, read_rows(SAMPLE_ORGS), settings.region_name)
        await staff.bootstrap_admins(session, settings.admin_ids)
    harness = Harness(build_dispatcher(settings, database, role_matrix))
    try:
        yield harness
    finally:
        await harness.dp.storage.close()
        await database.dispose()


class Pair:
    """A person on MAX and their twin on Telegram, doing the same thing at once."""

    def __init__(self, mh: MaxHarness, twin: Harness, user_id: int = USER) -> None:
        self.mh = mh
        self.twin = twin
        self.me: MaxPerson = mh.person(user_id)
        self.tw: ChatUser = twin.user(user_id)
        self.steps = 0
        # Words that rightly differ: what MAX shows → what Telegram shows instead.
        self.max_words: dict[str, str] = {}

    def _telegram_since(self, mark: int) -> list[tuple[str, list[str]]]:
        return [
            (s.plain, s.buttons)
            for s in self.twin.session.log[mark:]
            if s.chat_id == self.tw.chat.id
        ]

    async def _both(self, on_telegram: Any, on_max: Any, *, same_page: bool = False) -> list[Shown]:
        tg_mark = len(self.twin.session.log)
        noop, refused = self.mh.mx.noop_edits, len(self.twin.session.refusals)
        await on_telegram
        shown: list[Shown] = await on_max
        if same_page:
            # The page already shown, asked for again: Telegram refuses the edit as «not
            # modified» (the handler expects it), MAX takes it and changes nothing.
            assert self.twin.session.refusals[refused:] == [f"Bad Request: {NOT_MODIFIED}"]
            del self.twin.session.refusals[refused:]
            if self.mh.mx.noop_edits == noop + 1:
                self.mh.mx.noop_edits = noop
                shown = [s for s in shown if not all(part.noop for part in s.parts)]
            else:
                # A page longer than one MAX message is never edited in: it comes anew, in
                # parts, with the pager on its last part.
                assert len(shown) == 1 and len(shown[0].parts) > 1
                assert not any(part.noop for part in shown[0].parts)
                shown = []
        await self.check(tg_mark, shown)
        return shown

    async def check(self, tg_mark: int, shown: list[Shown]) -> None:
        """The step was clean on MAX, and the person saw what the twin saw."""
        self.steps += 1
        await self.mh.assert_clean(self.me.key)
        assert self.twin.session.refusals == []
        assert self.twin.unanswered_callbacks() == []
        on_max = [
            (same_words(as_on_telegram(s.text, self.max_words)), s.buttons)
            for s in shown
            if s.method not in ("SendDocument", "SendPhoto")
        ]
        on_telegram = [(same_words(t), b) for t, b in self._telegram_since(tg_mark)]
        assert on_max == on_telegram
        for part in (p for s in shown for p in s.parts):
            assert len(part.raw_text or "") <= 4000  # MAX's limit, checked by the stand-in too

    async def state(self) -> str | None:
        """The dialog's step, the same on both messengers."""
        on_max = await self.mh.dp.storage.get_state(
            StorageKey(bot_id=self.mh.bot.id, chat_id=self.me.key, user_id=self.me.key)
        )
        on_telegram = await self.twin.dp.storage.get_state(
            StorageKey(bot_id=BOT_ID, chat_id=self.tw.id, user_id=self.tw.id)
        )
        assert on_max == on_telegram
        return on_max

    async def start(self, payload: str | None = None) -> list[Shown]:
        command = "/start" if payload is None else f"/start {payload}"
        return await self._both(self.tw.send(command), self.me.start(payload))

    async def send(self, text: str) -> list[Shown]:
        return await self._both(self.tw.send(text), self.me.send(text))

    async def send_photo(self) -> list[Shown]:
        return await self._both(self.tw.send(None, kind="photo"), self.me.send_photo())

    async def press(self, label: str, *, same_page: bool = False) -> list[Shown]:
        shown = await self._both(self.tw.press(label), self.me.press(label), same_page=same_page)
        assert self.me.answer_text() == self.tw.last_answer_text()
        return shown

    async def by_both(self, act: Callable[[Harness], Awaitable[Any]]) -> list[Shown]:
        """Something done to both bots (a periodic job): what reached the person, compared."""
        mark = self.me.mark()
        return await self._both(act(self.twin), self._shown_after(act(self.mh.tg), mark))

    async def by_admins(self, act: Callable[[ChatUser], Awaitable[Any]]) -> list[Shown]:
        """An admin's action on both sides: what reached the person, compared."""
        return await self.by_both(lambda harness: act(admin(harness)))

    async def _shown_after(self, action: Any, mark: int) -> list[Shown]:
        await action
        return self.me.since(mark)


MAX_ACCOUNT = "Ваш аккаунт: MAX,"
TELEGRAM_ACCOUNT = "Ваш аккаунт: Telegram,"


def as_on_telegram(text: str, words: dict[str, str] | None = None) -> str:
    for on_max, instead in (words or {MAX_ACCOUNT: TELEGRAM_ACCOUNT}).items():
        text = text.replace(on_max, instead)
    return text


@pytest.fixture
def pair(mh: MaxHarness, twin: Harness) -> Pair:
    return Pair(mh, twin)


def text_of(shown: list[Shown]) -> str:
    """Everything the step showed, in order (a new prompt and the old one's echo)."""
    assert shown, "nothing was shown"
    return "\n".join(s.text for s in shown)


def sent(shown: list[Shown]) -> Shown:
    """The newest message the step sent."""
    return [s for s in shown if s.method == "SendMessage"][-1]


# --- the way in ---------------------------------------------------------------------------------


async def test_greeting_consent_gosuslugi_and_the_egisz_link(pair: Pair) -> None:
    greeting = await pair.start()
    assert "ВИМИС ОНКО" in text_of(greeting) and "до 20.12.2026" in text_of(greeting)
    assert texts.BTN_NEW in sent(greeting).buttons
    await pair.send("/start")
    await pair.start("some-unknown-payload")  # a deep link MAX passes as bot_started
    consent = await pair.press(texts.BTN_NEW)
    assert "Согласие на обработку персональных данных" in text_of(consent)
    await pair.send("да согласна")  # text at a button step: the keyboard again
    gosuslugi = await pair.press(texts.BTN_AGREE)
    assert "подтверждённая" in text_of(gosuslugi)
    assert "МФЦ" in text_of(await pair.press(texts.BTN_NO))
    assert sent(await pair.press(texts.BTN_LATER)).text == texts.PAUSED
    assert sent(await pair.start()).text == texts.plain(texts.RESUME_PROMPT)
    await pair.press(texts.BTN_CONTINUE)
    esia = await pair.press(texts.BTN_YES)
    assert "Вход на портал ЕГИСЗ через Госуслуги" in text_of(esia)
    buttons = [b for part in sent(esia).parts for row in part.keyboard for b in row]
    (link,) = [b for b in buttons if b["text"] == texts.BTN_OPEN_ESIA]
    assert (link["type"], link["url"]) == ("link", "https://ia.egisz.rosminzdrav.ru/")
    assert "Частые причины" in text_of(await pair.press(texts.BTN_TROUBLE))
    await pair.press(texts.BTN_TRY_AGAIN)
    snils = await pair.press(texts.BTN_DONE)
    assert "СНИЛС" in text_of(snils)
    assert pair.steps == 14


# --- the form -----------------------------------------------------------------------------------

HOSTILE_ORG = "ООО «Клиника <Здоровье> & Ко» 😀 "
HOSTILE_POSITION = "Врач & <заведующий> 😀 "
EMOJI_ORG = "😀"
EMOJI_POSITION = "😀"
LONG_NAME = " ".join(["Ж" + "ж" * 48] * 3)  # 149 characters: the longest name taken
LONG_EMAIL = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 56 + ".ru"


def longest(unit: str, length: int) -> str:
    """`unit` repeated and cut to `length` characters, ending in a letter."""
    return (unit * (length // len(unit) + 1))[: length - 1] + "я"


async def through_consent(pair: Pair) -> None:
    await pair.start()
    await pair.press(texts.BTN_NEW)
    await pair.press(texts.BTN_AGREE)
    await pair.press(texts.BTN_YES)
    await pair.press(texts.BTN_DONE)


async def to_summary(pair: Pair) -> list[Shown]:
    await through_consent(pair)
    await pair.send("11223344595")
    await pair.send("иванова мария петровна")
    await pair.send("ivanova@example.ru")
    await pair.press(texts.BTN_REGION_OK)
    await pair.send("ЦРБ")
    await pair.press("1. ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»")
    await pair.press("3. Главный врач")
    return await pair.press("Куратор 2 уровня")


async def test_every_field_and_every_error_message_with_hostile_input(pair: Pair) -> None:
    await through_consent(pair)
    await pair.send_photo()  # not a text: asked again
    snils_errors = {
        "112-233-445 9O": texts.SNILS_NOT_DIGITS,
        "СНИЛС 1122334459": texts.snils_wrong_length(10),
        "112 233 445 955": texts.snils_wrong_length(12),
        "112-233-445 96": texts.SNILS_WRONG_CHECKSUM,
        "000-000-000 00": texts.SNILS_ALL_ZEROS,
        "1" * 4000: texts.snils_wrong_length(4000),
        "<b>112</b> & 😀" * 250: texts.SNILS_NOT_DIGITS,
    }
    for answer, wrong in snils_errors.items():
        shown = await pair.send(answer)
        assert sent(shown).text.startswith(texts.plain(wrong)), answer[:40]
    await pair.send("112-233-445 95")
    name_errors: dict[str, str | None] = {
        "Иванова": texts.FIO_TOO_FEW,
        "Иванова Мария 2": texts.FIO_DIGITS,
        "Ivanova Maria": texts.FIO_LATIN,
        "Иванова Мария!": texts.fio_bad_chars(["!"]),
        "Иванова А.С.": texts.FIO_INITIALS,
        "Ж" * 4000: texts.FIO_TOO_FEW,
        "Ж" * 2000 + " " + "Ж" * 1999: texts.FIO_TOO_LONG,
        "Иванова " * 500: texts.FIO_TOO_LONG,
        "<b>Иванова</b> Мария": None,
        "Иванова Мария 😀": None,
        "Иванова Мария " + "<&>" * 1300: None,
    }
    for answer, error in name_errors.items():
        shown = await pair.send(answer)
        if error is not None:
            assert sent(shown).text.startswith(texts.plain(error)), answer[:40]
        assert await pair.state() == "Form:full_name", answer[:40]
    await pair.send("  иванoва–петрова   мaрия  ")  # Latin look-alikes, a dash: shown back fixed
    email_errors = ["ivanova", "ivanova@@mail.ru", "a" * 4000 + "@example.ru", "<b>@x.ru"]
    email_errors += ["ivanova@почта.рф", "ж" * 3990 + "@почта.рф", "😀" * 2000 + "@x.ru"]
    for answer in email_errors:
        shown = await pair.send(answer)
        assert "почт" in sent(shown).text, answer[:40]
    await pair.send("ivanova@example.ru")
    await pair.press(texts.BTN_REGION_OK)
    for query in ("!", "я" * 4000, "такой больницы нет", "<b>ЦРБ</b> & 😀"):
        await pair.send(query)
    await pair.press(texts.BTN_NOT_IN_LIST)
    for answer in ("ab", "x" * 4000, "1234567", "😀" * 2000):
        shown = await pair.send(answer)
    await pair.send(HOSTILE_ORG * 3)
    for answer in ("я" * 4000, "<>", "&"):
        await pair.send(answer)
    await pair.send("<Клиника & Ко>")
    await pair.press(texts.BTN_POSITION_OTHER)
    for answer in ("я" * 4000, "12", "<b>" * 1000):
        shown = await pair.send(answer)
        assert sent(shown).text.startswith(texts.plain(texts.POSITION_TEXT_LENGTH))
    summary = await pair.send("Врач-онколог & <заведующий> 😀")
    assert "Проверьте заявку" in sent(summary).text
    assert "ООО «Клиника <Здоровье> & Ко» 😀" in sent(summary).text
    assert f"Роль: {texts.ROLE_BY_ADMIN}" in sent(summary).text
    done = await pair.press(texts.BTN_SUBMIT)
    assert "отправлена" in text_of(done)


async def longest_values(pair: Pair, full: str, short: str, position: str) -> list[Shown]:
    """From the summary: every typed field at its longest, back at the summary."""
    await pair.press("✏️ Эл. почта")
    await pair.send(LONG_EMAIL)
    await pair.press("✏️ ФИО")
    await pair.send(LONG_NAME)
    await pair.press("✏️ Организация")
    await pair.send("нет такой")
    await pair.press(texts.BTN_NOT_IN_LIST)
    await pair.send(longest(full, 500))
    await pair.send(longest(short, 200))
    await pair.press("✏️ Должность")
    await pair.press(texts.BTN_POSITION_OTHER)
    return await pair.send(longest(position, 300))


async def test_back_cancel_edit_and_the_summary_with_the_longest_values(pair: Pair) -> None:
    summary = await to_summary(pair)
    assert "Куратор 2 уровня — Муниципальное образование РФ" in sent(summary).text
    await pair.press(texts.BTN_BACK)  # to the role
    await pair.press("Куратор 2 уровня")
    await pair.press("✏️ Эл. почта")
    await pair.send(LONG_EMAIL)
    await pair.press("✏️ ФИО")
    await pair.press(texts.BTN_BACK)  # while editing: back to the summary
    shown = await longest_values(pair, HOSTILE_ORG, HOSTILE_ORG, HOSTILE_POSITION)
    summary_text = sent(shown).text
    for value in (LONG_NAME, LONG_EMAIL, longest(HOSTILE_ORG, 500), longest(HOSTILE_ORG, 200)):
        assert same_words(value) in same_words(summary_text)
    await pair.press(texts.BTN_BACK)  # from the longest summary to the typed position
    await pair.send(longest(HOSTILE_POSITION, 300))
    await pair.send("/start")  # a finished draft: continue or start afresh
    await pair.press(texts.BTN_CONTINUE)
    done = await pair.press(texts.BTN_SUBMIT)
    assert "отправлена" in text_of(done)
    # A new dialog, cancelled by its button and by the command.
    await pair.press(texts.BTN_NEW)
    await pair.press(texts.BTN_ANOTHER_ROLE)
    await pair.press(texts.BTN_AGREE)
    assert sent(await pair.press(texts.BTN_CANCEL)).text == texts.plain(texts.CANCELLED)
    await pair.send("/cancel")


# --- after the form -----------------------------------------------------------------------------


async def submit_first(pair: Pair) -> None:
    await to_summary(pair)
    done = await pair.press(texts.BTN_SUBMIT)
    assert "отправлена" in text_of(done)


async def second_request(pair: Pair) -> None:
    again = await pair.press(texts.BTN_NEW)
    assert "У вас уже есть заявки" in sent(again).text
    await pair.press(texts.BTN_ANOTHER_ROLE)
    await pair.press(texts.BTN_AGREE)
    roles = await pair.press("3. Главный врач")
    assert "(уже есть заявка № 1)" in sent(roles).text
    await pair.press("Куратор 1 уровня")
    assert "отправлена" in text_of(await pair.press(texts.BTN_SUBMIT))


async def test_my_requests_in_pages_and_a_second_request_for_another_role(
    pair: Pair, db: Database
) -> None:
    await submit_first(pair)
    await second_request(pair)
    await walk_my_requests(pair, db, hostile=False)


async def test_my_requests_pages_with_escaped_text_turn_on_max(pair: Pair, db: Database) -> None:
    await submit_first(pair)
    await walk_my_requests(pair, db, hostile=True)


async def walk_my_requests(pair: Pair, db: Database, *, hostile: bool) -> None:
    """Ten more long requests, rejected with long reasons: «Мои заявки» needs pages."""
    for database, account in ((db, pair.me.key), (pair.twin.dp["db"], pair.tw.id)):
        for n in range(10):
            await long_rejected_request(database, account, n, hostile=hostile)
    first = await pair.send("/my")
    assert "страница 1 из 3" in sent(first).text and "▶️" in sent(first).buttons
    for page in (2, 3):
        shown = await pair.press("▶️")
        assert f"страница {page} из 3" in text_of(shown)
    await pair.press("◀️")
    await pair.press("2/3", same_page=True)  # the page it shows: nothing changes
    await pair.press(texts.BTN_MYDATA)


async def long_rejected_request(database: Database, account: int, n: int, *, hostile: bool) -> None:
    digits = f"{400_000_000 + n:09d}"
    unit = "<очень> длинного & названия 😀 " if hostile else "очень длинного названия "
    reason = "Причина <с разметкой> & 😀 " if hostile else "Причина отказа подробно "
    new = replace(
        NEW,
        account_id=account,
        snils=format_snils(digits + f"{check_number(digits):02d}"),
        email=f"u{n}@example.ru",
        org_short_name="Больница " + unit * 6,
        role="Роль " + "с длинным названием " * 9,
    )
    async with database.write() as session:
        result = await requests.submit(session, new)
        assert isinstance(result, requests.Submitted)
        await requests.decide(
            session, result.request.id, Status.REJECTED, actor_id=ADMIN_ID, reason=reason * 20
        )


async def test_help_the_faq_a_question_and_the_operators_answer(pair: Pair) -> None:
    operators = []
    for harness in (pair.twin, pair.mh.tg):
        harness.session.forum_chats.add(SUPPORT_CHAT_ID)
        async with harness.dp["db"].write() as session:
            await staff.add(session, ADMIN_ID, OPERATOR_ID, staff.StaffRole.OPERATOR)
        operators.append(harness.member(OPERATOR_ID, SUPPORT_CHAT_ID, "Оператор"))
    await through_consent(pair)
    faq = await pair.press(texts.BTN_STEP_HELP)
    assert any("электронной почты" in b for b in sent(faq).buttons)
    answer = await pair.press("Какой адрес электронной почты указать?")
    assert "Личный адрес" in text_of(answer)
    await pair.press(texts.BTN_FAQ_HELPED)
    assert await pair.state() == "Form:snils"
    await pair.send("/help")
    asked = await pair.send("Портал не открывается <b>что</b> делать? & 😀 " * 80)
    assert texts.ASK_SENT in text_of(asked)
    # The operator answers on Telegram; on MAX the answer comes as its text (a Telegram
    # message cannot be copied into MAX), so only MAX's side is compared with what was typed.
    reply = "Откройте портал ещё раз <после> 10:00 & 😀"
    mark = pair.me.mark()
    for operator, harness in zip(operators, (pair.twin, pair.mh.tg), strict=True):
        async with harness.dp["db"].read() as session:
            found = await session.get(SupportThread, pair.me.key if harness is pair.mh.tg else USER)
        assert found is not None and found.topic_id is not None
        await operator.send(reply, thread_id=found.topic_id)
    told = pair.me.since(mark)
    assert reply in text_of(told)
    await pair.mh.assert_clean(pair.me.key)
    await pair.send("/start")
    await pair.press(texts.BTN_CONTINUE)


async def test_mydata_also_as_a_file_and_withdraw(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    await to_summary(pair)
    await longest_values(pair, HOSTILE_ORG, HOSTILE_ORG, HOSTILE_POSITION)
    await pair.press(texts.BTN_SUBMIT)
    await pair.send("/my")
    pair.max_words = {MAX_ACCOUNT: TELEGRAM_ACCOUNT}  # /mydata names the messenger
    mine = await pair.press(texts.BTN_MYDATA)
    assert "112-233-445 95" in text_of(mine)
    await pair.send("/mydata")
    monkeypatch.setattr(mydata_handler, "MESSAGE_LIMIT", 100)
    files = await pair.send("/mydata")
    (document,) = [s for s in files if s.method == "SendDocument"]
    (upload,) = document.parts[0].files
    assert upload.filename == texts.MYDATA_FILE_NAME
    assert "112-233-445 95" in upload.content.decode()
    assert document.parts[0].text == texts.plain(texts.MYDATA_FILE_NOTE)
    (twins,) = pair.twin.session.files
    assert twins.data.decode() == as_on_telegram(upload.content.decode())
    pair.max_words = {}
    await pair.send("/withdraw")
    kept = await pair.press(texts.BTN_WITHDRAW_KEEP)
    assert sent(kept).text == texts.plain(texts.WITHDRAW_KEPT)
    await pair.send("/withdraw")
    done = await pair.press(texts.BTN_WITHDRAW_CONFIRM)
    assert sent(done).text == texts.plain(texts.withdrawn([1], [1]))
    assert sent(await pair.send("/my")).text == texts.plain(texts.MY_EMPTY)


async def test_mydata_full_of_emoji_is_a_file_or_a_message_on_both(pair: Pair) -> None:
    await to_summary(pair)
    await longest_values(pair, EMOJI_ORG, EMOJI_ORG, EMOJI_POSITION)
    await pair.press(texts.BTN_SUBMIT)
    # A request for another role begun: the draft holds the long names once more.
    await pair.press(texts.BTN_NEW)
    await pair.press(texts.BTN_ANOTHER_ROLE)
    await pair.press(texts.BTN_AGREE)
    pair.max_words = {MAX_ACCOUNT: TELEGRAM_ACCOUNT}
    await pair.send("/mydata")


# --- notices ------------------------------------------------------------------------------------


def admins(pair: Pair) -> tuple[ChatUser, ChatUser]:
    return admin(pair.twin), admin(pair.mh.tg)


async def test_every_decision_notice(pair: Pair) -> None:
    await submit_first(pair)
    # Returned with fields to fix.
    for boss in admins(pair):
        await boss.press(texts.BTN_RETURN)
        await boss.press("▫️ ФИО")
        await boss.press("▫️ Эл. почта")
        await boss.press(texts.BTN_NEXT)
    returned = await pair.by_admins(lambda boss: boss.reply("Укажите ФИО <как в Госуслугах> & 😀"))
    assert "Укажите ФИО <как в Госуслугах> & 😀" in text_of(returned)
    assert texts.btn_fix(1) in sent(returned).buttons
    fixing = await pair.press(texts.btn_fix(1))
    assert "Исправление заявки № 1" in text_of(fixing)
    await pair.send("Иванова-Петрова Мария Петровна")
    await pair.send("m.ivanova@example.ru")
    assert "отправлена повторно" in text_of(await pair.press(texts.BTN_SUBMIT))
    approved = await pair.by_admins(lambda boss: boss.press(texts.BTN_APPROVE))
    assert "одобрена" in text_of(approved)
    await pair.by_admins(lambda boss: boss.send("/export"))
    granted = await pair.by_admins(lambda boss: boss.send("/granted 1"))
    assert "доступ к ВИМИС ОНКО предоставлен" in text_of(granted)
    # A second request, rejected with the longest reason an admin can type.
    await pair.press(texts.BTN_NEW)
    await pair.press(texts.BTN_ANOTHER_ROLE)
    await pair.press(texts.BTN_AGREE)
    await pair.press("3. Главный врач")
    await pair.press("Куратор 1 уровня")
    await pair.press(texts.BTN_SUBMIT)
    reason = longest("Нет приказа <о назначении> & «кавычки» 😀 ", 1000)
    for boss in admins(pair):
        await boss.press(texts.BTN_REJECT)
        await boss.press(texts.BTN_OTHER_REASON)
    rejected = await pair.by_admins(lambda boss: boss.reply(reason))
    assert same_words(reason) in same_words(text_of(rejected))
    assert "отклонена" in text_of(await pair.send("/my"))


async def test_reminders_a_broadcast_and_the_organisations_decline(pair: Pair) -> None:
    for harness in (pair.twin, pair.mh.tg):
        await responsible(harness.dp["db"], RESP_A1)
    await through_consent(pair)  # an unfinished request: reminded, in the «drafts» audience
    for day in (date(2026, 12, 13), date(2026, 12, 17), DEADLINE):
        reminded = await pair.by_both(
            lambda harness, day=day: remind(harness, day)  # type: ignore[misc]
        )
        assert "срока подачи заявок" in text_of(reminded) or "последний день" in text_of(reminded)
    for boss in admins(pair):
        await boss.send("/broadcast")
        await boss.press(texts.BROADCAST_AUDIENCES["drafts"])
        await boss.reply(BROADCAST)
    told = await pair.by_admins(lambda boss: boss.press(texts.BTN_BROADCAST_SEND))
    assert same_words(BROADCAST) in same_words(text_of(told))
    assert len(told[-1].parts) == 2
    await pair.send("11223344595")
    await pair.send("иванова мария петровна")
    await pair.send("ivanova@example.ru")
    await pair.press(texts.BTN_REGION_OK)
    await pair.send("ЦРБ")
    await pair.press("1. ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»")
    await pair.press("3. Главный врач")
    await pair.press("Куратор 2 уровня")
    await pair.press(texts.BTN_SUBMIT)
    for harness in (pair.twin, pair.mh.tg):
        await harness.user(RESP_A1).press(texts.BTN_ORG_DECLINE)
    decline = longest("Не работает у нас <b>с 2025</b> & 😀 ", 300)
    declined = await pair.by_admins(
        lambda boss: boss.h.user(RESP_A1).reply(decline)  # the responsible person, on Telegram
    )
    assert "не подтвердила заявку № 1" in text_of(declined)
    assert same_words(decline) in same_words(text_of(declined))


# Near the 4000 characters an admin may type; escaped, past MAX's 4000 units: sent in parts.
BROADCAST = longest('Обучение 10.12 в 10:00 <b>не жирный</b> & "кавычки" <script> 😀 ', 3800)


async def remind(harness: Harness, day: date) -> None:
    await send_due(harness.dp["db"], harness.dp.storage, harness.dp["settings"], day)
    await harness.deliver()
