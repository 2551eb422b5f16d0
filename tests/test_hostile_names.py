"""Hostile names and texts: Telegram names (set by anyone, up to 64 characters each part) and
typed texts with `<`, `&`, `>`, quotes, right-to-left overrides, zero-width characters, emoji
and maximum lengths, through the dialog, the admins' cards and decisions, staff lists and the
support chat. The recording session refuses what Telegram refuses (HTML it cannot parse, long
texts and alerts, bad topic names); the plain texts must show what was typed, as typed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiogram.methods import AnswerCallbackQuery
from sqlalchemy import update

from bot import texts
from bot.outbound.support_desk import enqueue_overdue
from db.database import Database
from db.models import SupportThread, utcnow
from services import staff
from services.typed_text import clean_text
from tests.conftest import ADMIN_ID, SUPPORT_CHAT_ID
from tests.support.admin import ADMIN2_ID, ADMIN_CHAT, cards, request_row
from tests.support.dialog_steps import to_organization, to_summary, type_organization
from tests.support.harness import Harness
from tests.test_dialog_question import OPERATOR_ID, thread

# (first name, last name) as Telegram may deliver them.
NAMES = {
    "angle": ("‹Оля & Ко>", None),
    "html": ('<b>Оля</b> & "Ко"', "<i>'</i>"),
    "entities": ("&amp; &lt;b&gt;", "&#x3C;&"),
    "rtl": ("\u202eОля", "Ко\u202b\u200f"),
    "zero_width": ("О\u200bл\u200dя\ufeff", "\u2060"),
    "invisible": ("\u200b", None),
    "emoji": ("👩\u200d⚕️ Оля 🏥", "🇷🇺" * 16 + "😀" * 32),
    "long": ("Я" * 64, "&<" * 32),
}
TYPED = '<b>"Оля" & Ко</b> \u202eлеворукий\u202c ‹›'
# What the bot keeps of it: invisible and reordering characters are dropped where text comes
# in (services/typed_text.py); everything a person can see stays as typed.
STORED = clean_text(TYPED)


def seen(first: str, last: str | None) -> tuple[str, str | None]:
    """A Telegram name as the bot sees it, cleaned like typed text."""
    cleaned_last = clean_text(last).strip() if last else None
    return clean_text(first).strip() or "—", cleaned_last or None


def full(first: str, last: str | None) -> str:
    return f"{first} {last}" if last else first


def alerts(h: Harness) -> list[str]:
    return [c.text for c in h.session.calls if isinstance(c, AnswerCallbackQuery) and c.text]


@pytest.fixture(params=list(NAMES), ids=list(NAMES))
def name(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    return NAMES[request.param]


async def test_the_applicant_dialog_and_the_admins_card(
    h: Harness, db: Database, name: tuple[str, str | None]
) -> None:
    applicant = h.user(1001, *name)
    first, last = seen(*name)
    sent = await applicant.send("/start")
    assert f"Здравствуйте, {first}!" in sent[-1].plain
    await to_organization(applicant)
    await type_organization(applicant, f"Больница {TYPED}", f"Б {TYPED}")
    await applicant.press("Моей должности нет в списке")
    await applicant.send(f"Врач {TYPED}")
    await applicant.press("📨 Отправить")
    card = cards(h)[-1]
    assert f"Больница {STORED}" in card.plain and f"Врач {STORED}" in card.plain

    boss = h.member(ADMIN_ID, ADMIN_CHAT, *name)
    await boss.press(texts.BTN_CHANGE_ROLE)
    await boss.press("Куратор 1 уровня")
    await boss.reply(f"Причина {TYPED}")
    assert f"Комментарий: Причина {STORED}" in applicant.last.plain
    await boss.press(texts.BTN_RETURN)
    await boss.press("▫️ Организация")
    await boss.press(texts.BTN_NEXT)
    await boss.reply(f"Комментарий {TYPED}")
    assert f"Комментарий МИАЦ: Комментарий {STORED}" in applicant.last.plain
    await applicant.press("✏️ Исправить заявку № 1")
    await type_organization(applicant, f"Клиника {TYPED}", f"К {TYPED}")
    await applicant.press("📨 Отправить")
    card = cards(h)[-1]
    assert f"Больница {STORED} → Клиника {STORED}" in card.plain

    old_card, approve = boss.find_button(texts.BTN_APPROVE)
    await boss.press(texts.BTN_REJECT)
    await boss.press(texts.BTN_OTHER_REASON)
    await boss.reply(f"Отказ {TYPED}")
    assert (await request_row(db)).status == "rejected"
    decided = cards(h)[-1]
    assert texts.isolate(full(first, last)) in decided.plain  # "decided by", as spelled
    assert f"Причина: Отказ {STORED}" in decided.plain

    # The other admin presses «Одобрить» on the old copy: the alert names who decided, in
    # plain text (no HTML entities in an alert).
    other = h.member(ADMIN2_ID, ADMIN_CHAT, "Пётр")
    await other.press_data(old_card, approve)
    assert other.last_answer_text() == texts.already_decided(
        "rejected",
        texts.who_when_plain(full(first, last), (await request_row(db)).decided_at),  # type: ignore[arg-type]
    )

    history = (await boss.send("/history 1"))[-1].plain
    assert f"{full(first, last)}: отклонена" in history
    assert f"Отказ {STORED}" in history
    staff_list = (await boss.send("/staff"))[-1].plain
    assert texts.isolate(full(first, last)) in staff_list
    await boss.send("/find клиника")
    assert (await applicant.send("/my"))[-1].plain.count(STORED) >= 2
    assert h.session.refusals == []
    assert h.unanswered_callbacks() == []


async def test_the_support_chat(
    harness: Harness, db: Database, name: tuple[str, str | None]
) -> None:
    harness.session.forum_chats.add(SUPPORT_CHAT_ID)
    async with db.write() as session:
        await staff.add(session, ADMIN_ID, OPERATOR_ID, staff.StaffRole.OPERATOR)
    operator = harness.member(OPERATOR_ID, SUPPORT_CHAT_ID, *name)
    user = harness.user(1001, *name)
    await user.send("/help")
    question = user.message_update(f"Вопрос {TYPED}")
    await harness.feed(question)
    found = await thread(db)
    topic = found.topic_id
    assert topic is not None
    title = harness.session.topics[(SUPPORT_CHAT_ID, topic)]
    assert title.strip()
    header = next(s for s in harness.session.in_chat(SUPPORT_CHAT_ID) if s.thread_id == topic)
    assert "Заявок пока нет" in header.plain

    from aiogram.types import Update

    assert question.message is not None
    edited = question.message.model_copy(update={"text": f"Исправленный вопрос {TYPED}"})
    await harness.feed(Update(update_id=99_999, edited_message=edited))
    notes = [s.plain for s in harness.session.in_chat(SUPPORT_CHAT_ID)]
    assert any(f"Исправленный вопрос {STORED}" in n for n in notes)

    await operator.send(f"Ответ {TYPED}", thread_id=topic)
    tickets = (await operator.send("/tickets"))[-1].plain
    assert f"{title} — ответ дан" in tickets
    await user.send("/help")
    await user.send("Ещё вопрос")
    async with db.write() as session:
        await session.execute(
            update(SupportThread).values(waiting_since=utcnow() - timedelta(hours=5))
        )
    async with db.write() as session:
        assert await enqueue_overdue(session, harness.dp["settings"]) == 1
    await harness.deliver()
    await operator.send("/close", thread_id=topic)
    await user.press("5")

    # The applicant submits a request: the header and the title follow (ФИО from the form).
    await to_summary(user)
    await user.press("📨 Отправить")
    header = harness.session.messages[(SUPPORT_CHAT_ID, found.header_message_id or 0)]
    assert "Иванова Мария Петровна" in header.plain and "***-***-445 95" in header.plain
    assert "112-233-445" not in header.plain  # the SNILS is masked in the support chat
    assert harness.session.refusals == []
    assert harness.unanswered_callbacks() == []
