"""End to end, МИАЦ's desks on MAX: the real `python -m bot` process with MAX_TOKEN alone (no
Telegram at all) against the MAX stand-in — the admins' group approves a MAX applicant's
request, the operators' group (no topics: a chain of replies) answers a question, and someone
who is not staff presses the card's buttons and types staff commands to no effect."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.database import Database
from db.models import AccessRequest, RequestEvent
from services.accounts import Messenger, account_key
from tests.e2e.max_standin import MaxApiStandin
from tests.e2e.max_standin import SentRecord as MaxRecord
from tests.e2e.standin import BotApiStandin
from tests.e2e.support import MAX_TOKEN, BotProcess, Form, Person, fill_form
from tests.e2e.test_e2e_max import MaxPerson, start_both, walk_form_from_directory

ADMIN = 900001
STRANGER = 900999
APPLICANT = 5550100


def max_only_env(mx: MaxApiStandin, database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BOT_", "DATABASE_", "ADMIN_", "SUPPORT_", "MAX_", "REDIS_"))
    }
    env.update(
        MAX_TOKEN=MAX_TOKEN,
        MAX_API_URL=mx.url,
        MAX_TIMEOUT="5",
        DATABASE_URL=database_url,
        ADMIN_IDS=f"max:{ADMIN}",
        LOG_LEVEL="INFO",
        SUPPORT_HOURS="00:00-23:59",
        SUPPORT_DAYS="1-7",
        ERASURE_JOURNAL=str(tmp_path / "erasures.jsonl"),
    )
    return env


def in_chat(mx: MaxApiStandin, chat_id: int, contains: str, after: int = 0) -> MaxRecord:
    for record in mx.sent[after:]:
        if record.chat_id == chat_id and contains in (record.text or ""):
            return record
    raise AssertionError(f"nothing with {contains!r} in chat {chat_id}")


@pytest.mark.usefixtures("directory")
async def test_max_alone_admins_and_operators_desks_on_max(
    mx: MaxApiStandin, database_url: str, tmp_path: Path, db: Database
) -> None:
    mx.introduce(ADMIN, "Админ")
    mx.introduce(STRANGER, "Посторонний")
    admins = mx.create_group("МИАЦ: заявки", members=[ADMIN, STRANGER])
    operators = mx.create_group("МИАЦ: поддержка", members=[ADMIN])
    env = max_only_env(mx, database_url, tmp_path)
    env.update(MAX_ADMIN_CHAT_ID=str(admins), MAX_SUPPORT_CHAT_ID=str(operators))
    bot = BotProcess(env)  # MAX alone: up when MAX has its commands
    await bot.start_until(lambda: bool(mx.commands))
    try:
        me = MaxPerson(mx, APPLICANT)
        done = await walk_form_from_directory(me)
        card = await mx.wait_for_message(admins, lambda r: "Заявка №" in (r.text or ""), timeout=20)
        assert "Мессенджер: MAX" in (card.text or "")
        assert "✅ Одобрить" in card.buttons

        # Someone in the admins' group who is not staff: the press and the command do nothing.
        mark = len(mx.sent)
        mx.press(STRANGER, "✅ Одобрить", chat_id=admins)
        mx.push_message(STRANGER, "/queue", chat_id=admins)
        refused = await mx.wait_for_message(
            admins, lambda r: "Нет доступа" in (r.text or ""), timeout=20, after=mark
        )
        assert refused is not None
        await asyncio.sleep(1)
        async with db.read() as session:
            request = (await session.scalars(select(AccessRequest))).one()
        assert request.status == "submitted"

        # The admin approves in the MAX group; the applicant is told on MAX.
        mark = len(mx.sent)
        mx.press(ADMIN, "✅ Одобрить", chat_id=admins)
        told = await me.expect(mark, "одобрена")
        await mx.wait_for_message(
            admins, lambda r: "Одобрена" in (r.text or ""), timeout=20, after=mark
        )

        # A question: the operators' group has no topics — the header, the question under it.
        await me.says("/help", "вопрос")
        mark = len(mx.sent)
        mx.push_message(APPLICANT, "Когда придёт доступ & <что дальше>?")
        question = await mx.wait_for_message(
            operators, lambda r: "Когда придёт доступ" in (r.text or ""), timeout=20, after=mark
        )
        header = in_chat(mx, operators, "Смирнов Олег", mark)
        assert (
            question.link is not None and question.link.get("message", {}).get("mid") == header.mid
        )
        assert "Когда придёт доступ & <что дальше>?" in (question.text or "")

        # The operator answers by replying to the question: the applicant gets it on MAX.
        mark = len(mx.sent)
        mx.push_message(
            ADMIN, "Доступ откроет федеральный оператор.", chat_id=operators, reply_to=question.mid
        )
        answer = await me.expect(mark, "Доступ откроет федеральный оператор.")
        assert answer is not None

        # The applicant withdraws consent: the bot's messages of their chain go from the desk.
        await me.says("/withdraw", "Отзыв согласия")
        await me.presses("Да, отозвать и удалить", "Согласие на обработку")
        async with asyncio.timeout(20):
            while not {header.mid, question.mid} <= set(mx.deleted):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        code, output = await bot.stop()
    assert code == 0, output
    assert mx.errors == [], [f"{e.method} {e.path}: {e.code} {e.message}" for e in mx.errors]
    assert mx.stripped_tags == []
    async with db.read() as session:
        request = (await session.scalars(select(AccessRequest))).one()
    # Approved, then withdrawn: cancelled and erased, the account key gone with the data.
    assert request.status == "cancelled" and request.erased_at is not None
    assert request.account_id != account_key(Messenger.MAX, APPLICANT)
    assert f"№ {request.id}" in (done.text or "") and f"№ {request.id}" in (told.text or "")
    for secret in ("006-012-788 00", "oleg@example.ru", "Смирнов", "Когда придёт"):
        assert secret not in output, f"personal data in the log: {secret}"


TG_ADMIN = 900001
MAX_ADMIN = 900002
TG_APPLICANT = 5550200
ADMIN_GROUP_TG = -1005550001


@pytest.mark.usefixtures("directory")
async def test_admins_on_both_messengers_one_decision_and_the_max_desk_answers_telegram(
    standin: BotApiStandin,
    mx: MaxApiStandin,
    bot_env: dict[str, str],
    db: Database,
) -> None:
    """During a move: the admins' desk in both messengers, the operators' desk on MAX only.
    A card is in both groups; two admins pressing at once on the two messengers make one
    decision and every copy shows it; a reason typed as a reply to the bot's prompt on MAX
    goes to a Telegram applicant; the MAX operators' answer reaches Telegram."""
    mx.introduce(MAX_ADMIN, "Пётр")
    max_admins = mx.create_group("МИАЦ: заявки", members=[MAX_ADMIN])
    max_operators = mx.create_group("МИАЦ: поддержка", members=[MAX_ADMIN])
    env = {k: v for k, v in bot_env.items() if k != "SUPPORT_CHAT_ID"}
    env.update(
        MAX_TOKEN=MAX_TOKEN,
        MAX_API_URL=mx.url,
        MAX_TIMEOUT="5",
        ADMIN_IDS=f"{TG_ADMIN},max:{MAX_ADMIN}",
        ADMIN_CHAT_ID=str(ADMIN_GROUP_TG),
        MAX_ADMIN_CHAT_ID=str(max_admins),
        MAX_SUPPORT_CHAT_ID=str(max_operators),
        SUPPORT_HOURS="00:00-23:59",
        SUPPORT_DAYS="1-7",
    )
    bot = BotProcess(env)
    await start_both(bot, standin, mx)
    try:
        on_max = MaxPerson(mx, APPLICANT)
        await walk_form_from_directory(on_max)
        tg_card = await standin.wait_for_message(
            ADMIN_GROUP_TG, lambda r: "Заявка № 1" in (r.text or ""), timeout=20
        )
        max_card = await mx.wait_for_message(
            max_admins, lambda r: "Заявка № 1" in (r.text or ""), timeout=20
        )
        assert tg_card.buttons and max_card.buttons

        # Two admins, two messengers, one moment: one decision.
        olga = Person(standin, TG_ADMIN, "Ольга", chat_id=ADMIN_GROUP_TG)
        mark = len(mx.sent)
        olga.press("✅ Одобрить")
        mx.press(MAX_ADMIN, "✅ Одобрить", chat_id=max_admins)
        await on_max.expect(mark, "одобрена")
        async with asyncio.timeout(20):
            while True:
                tg_last = standin.last_message(ADMIN_GROUP_TG)
                max_last = mx.last_message(max_admins)
                if "Одобрена" in (tg_last.text or "") and "Одобрена" in (max_last.text or ""):
                    break
                await asyncio.sleep(0.05)
        assert tg_last.buttons == [] and max_last.buttons == []

        # A Telegram applicant; the MAX admin rejects with a typed reason, replying on MAX.
        me = Person(standin, TG_APPLICANT, "Мария")
        form = Form(snils="112 233 445 95", name="Иванова Мария", email="ivanova@example.ru")
        await fill_form(me, form)
        await me.presses("📨 Отправить", "отправлена")
        await mx.wait_for_message(max_admins, lambda r: "Заявка № 2" in (r.text or ""), timeout=20)
        mark = len(mx.sent)
        mx.press(MAX_ADMIN, "❌ Отклонить", chat_id=max_admins)
        reasons = await mx.wait_for_message(
            max_admins, lambda r: "Другая причина" in " ".join(r.buttons), timeout=20, after=mark
        )
        assert reasons is not None
        mark = len(mx.sent)
        mx.press(MAX_ADMIN, "✍️ Другая причина", chat_id=max_admins)
        prompt = await mx.wait_for_message(
            max_admins, lambda r: "причин" in (r.text or "").lower(), timeout=20, after=mark
        )
        mark_tg = len(standin.sent)
        mx.push_message(
            MAX_ADMIN, "Не та организация & <проверьте>", chat_id=max_admins, reply_to=prompt.mid
        )
        told = await me.expect(mark_tg, "отклонена")
        assert "Не та организация & <проверьте>" in (told.text or "")

        # The Telegram applicant asks; the MAX operators' chain answers; Telegram gets it.
        await me.says("/help", "вопрос")
        mark = len(mx.sent)
        standin.push_message(TG_APPLICANT, "Почему отклонили?", first_name="Мария")
        question = await mx.wait_for_message(
            max_operators, lambda r: "Почему отклонили?" in (r.text or ""), timeout=20, after=mark
        )
        mark_tg = len(standin.sent)
        mx.push_message(
            MAX_ADMIN, "Укажите вашу организацию.", chat_id=max_operators, reply_to=question.mid
        )
        answer = await standin.wait_for_message(
            TG_APPLICANT,
            lambda r: "Укажите вашу организацию." in (r.text or ""),
            timeout=20,
            after=mark_tg,
        )
        assert answer is not None
    finally:
        code, output = await bot.stop()
    assert code == 0, output
    assert mx.errors == [], [f"{e.method} {e.path}: {e.code} {e.message}" for e in mx.errors]
    assert standin.errors == [], [e.description for e in standin.errors]
    assert mx.stripped_tags == []
    async with db.read() as session:
        approvals = await session.scalar(
            select(func.count()).select_from(RequestEvent).where(RequestEvent.action == "approved")
        )
        second = await session.get(AccessRequest, 2)
    assert approvals == 1
    assert second is not None and second.status == "rejected"
