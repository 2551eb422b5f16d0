"""An admin's typed reason reaches the bot, and admin views show no internals (issue 15,
points 6 and 7)."""

from __future__ import annotations

from aiogram.methods import SendMessage
from aiogram.types import ForceReply

from bot import texts
from db.database import Database
from tests.conftest import ADMIN_ID
from tests.support.admin import ADMIN2_ID, ADMIN_CHAT, admin, cards, request_row, submitted
from tests.support.dialog_steps import to_organization
from tests.support.harness import Harness


async def test_the_prompt_names_the_admin_so_the_reply_box_opens_for_them(h: Harness) -> None:
    await submitted(h)
    boss = admin(h)
    await boss.press(texts.BTN_REJECT)
    sent = await boss.press(texts.BTN_OTHER_REASON)
    prompt = sent[-1]
    assert prompt.plain.startswith("👤 Ольга\n")
    links = [e for e in prompt.entities if e["type"] == "text_link"]
    assert [e["url"] for e in links] == [f"tg://user?id={ADMIN_ID}"]
    call = next(
        c
        for c in reversed(h.session.calls)
        if isinstance(c, SendMessage) and int(c.chat_id) == ADMIN_CHAT
    )
    assert isinstance(call.reply_markup, ForceReply) and call.reply_markup.selective


async def test_a_hostile_admin_name_is_escaped_in_the_mention(h: Harness) -> None:
    await submitted(h)
    boss = admin(h, name="<Оля & Ко>")
    await boss.press(texts.BTN_REJECT)
    sent = await boss.press(texts.BTN_OTHER_REASON)
    assert "👤 <Оля & Ко>" in sent[-1].plain
    assert h.session.refusals == []


async def test_an_admin_who_writes_past_the_prompt_is_told_and_may_use_the_text(
    h: Harness, db: Database
) -> None:
    applicant = await submitted(h)
    boss = admin(h)
    await boss.press(texts.BTN_REJECT)
    await boss.press(texts.BTN_OTHER_REASON)

    # A plain message (the bot sees it when privacy mode is off, or it is an admin there).
    sent = await boss.send("Нет приказа о назначении ответственным")
    hint = sent[-1]
    assert "ответом на моё сообщение" in hint.plain and "заявке № 1" in hint.plain
    assert hint.buttons == [texts.BTN_USE_AS_INPUT]
    assert (await request_row(db)).status == "submitted"

    # A reply to another of the bot's messages (seen even with privacy mode on): told too.
    sent = await boss.send("Или вот так", reply_to=cards(h)[-1])
    assert sent[-1].buttons == [texts.BTN_USE_AS_INPUT]
    # Colleagues' chatter and commands are not the admin's input.
    assert await admin(h, ADMIN2_ID, "Пётр").send("Коллеги, я на обеде") == []
    sent = await boss.send("/queue")
    assert "Заявки на рассмотрении" in sent[-1].plain

    use = hint.button_data(texts.BTN_USE_AS_INPUT)
    assert use is not None
    await boss.press_data(hint, use)
    row = await request_row(db)
    assert row.status == "rejected"
    assert row.decision_reason == "Нет приказа о назначении ответственным"
    assert "Нет приказа о назначении ответственным" in applicant.last.plain
    assert h.session.messages[(ADMIN_CHAT, hint.message_id)].buttons == []
    assert h.unanswered_callbacks() == [] and h.session.refusals == []


async def test_admin_views_show_no_internals(h: Harness, db: Database) -> None:
    applicant = h.user(1001)
    await to_organization(applicant)
    await applicant.send("ЦРБ")
    await applicant.press("1. ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»")
    await applicant.press(texts.BTN_POSITION_OTHER)
    await applicant.send("Заведующий онкологическим кабинетом")
    await applicant.press(texts.BTN_SUBMIT)
    boss = admin(h)
    await boss.press(texts.BTN_RETURN)
    await boss.press("▫️ Эл. почта")
    await boss.press(texts.BTN_NEXT)
    await boss.reply("Нужен личный адрес")
    await applicant.press("✏️ Исправить заявку № 1")
    await applicant.send("m.ivanova@example.ru")
    await applicant.press(texts.BTN_SUBMIT)
    assert texts.WARN_POSITION_MANUAL in cards(h)[-1].plain

    await boss.press(texts.BTN_CHANGE_ROLE)
    await boss.press("Куратор 1 уровня")
    await boss.reply("Кабинет ведёт учёт в МО")
    told = applicant.last.plain
    assert "назначил роль Куратор 1 уровня" in told
    assert texts.ROLE_BY_ADMIN not in told and "→" not in told
    card = cards(h)[-1]
    assert texts.WARN_POSITION_MANUAL not in card.plain  # the role is chosen now
    assert texts.NOTE_POSITION_MANUAL_ROLE_SET in card.plain
    await boss.press(texts.BTN_APPROVE)
    assert texts.WARN_POSITION_MANUAL not in cards(h)[-1].plain

    sent = await boss.send("/history 1")
    history = sent[-1].plain
    assert "None" not in history
    assert "Роль: не выбрана → Куратор 1 уровня" in history
    assert "Поля на доработку: Эл. почта" in history
    assert "\n   Эл. почта\n" not in history + "\n"
