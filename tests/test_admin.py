"""Admins decide on requests in the admin group: cards, decisions, races, rights."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import func, select

from bot import texts
from bot.handlers.admin import decisions as admin_handlers
from bot.prompts import DESTINY as INPUT_DESTINY
from db.database import Database
from db.models import RequestEvent
from services import staff
from tests.conftest import ADMIN_ID
from tests.support.admin import ADMIN2_ID, ADMIN_CHAT, admin, cards, events, request_row, submitted
from tests.support.concurrency import TIMEOUT, Rendezvous
from tests.support.dialog_steps import to_organization, type_organization
from tests.support.harness import BOT_ID, Harness, Sent

STRANGER_ID = 900099


async def test_a_submitted_request_posts_a_card_to_the_admin_chat(h: Harness) -> None:
    await submitted(h)
    card = cards(h)[-1]
    assert "Заявка № 1" in card.plain and "на рассмотрении" in card.plain
    assert "112-233-445 95" in card.plain  # the full SNILS, here only
    assert "Куратор 2 уровня — Муниципальное образование РФ" in card.plain
    assert card.buttons == [
        texts.BTN_APPROVE,
        texts.BTN_REJECT,
        texts.BTN_RETURN,
        texts.BTN_CHANGE_ROLE,
    ]
    assert "⚠️" not in card.plain


async def test_card_warns_about_hand_typed_data_and_the_same_snils(h: Harness) -> None:
    await submitted(h)
    applicant = h.user(1001)
    await applicant.press(texts.BTN_NEW)
    await applicant.press(texts.BTN_ANOTHER_ROLE)  # the second request of the same person
    await applicant.press(texts.BTN_AGREE)
    await applicant.press("Моей должности нет в списке")
    await applicant.send("Врач-онколог")
    await applicant.press("✏️ Организация")
    await type_organization(applicant, "Частная клиника «Здоровье»", "ЧК «Здоровье»")
    await applicant.press("📨 Отправить")
    # The refresh of card № 1 (it now warns of № 2) may be delivered after card № 2.
    (card,) = [c for c in cards(h) if "Заявка № 2" in c.plain]
    assert texts.WARN_ORG_MANUAL in card.plain
    assert texts.WARN_POSITION_MANUAL in card.plain
    assert texts.warn_own_request(1, "submitted") in card.plain
    assert "другого аккаунта" not in card.plain
    assert "Роль: не выбрана" in card.plain


async def test_approve(h: Harness, db: Database) -> None:
    applicant = await submitted(h)
    await admin(h).press(texts.BTN_APPROVE)
    row = await request_row(db)
    assert row.status == "approved" and row.decided_by == ADMIN_ID
    assert await events(db) == [("created", "submitted", 1001), ("approved", "approved", ADMIN_ID)]
    card = cards(h)[-1]
    assert "✅ Одобрена" in card.plain and "Ольга" in card.plain
    assert card.buttons == []
    assert "одобрена" in applicant.last.plain
    assert h.unanswered_callbacks() == []


async def test_reject_with_a_preset_reason(h: Harness, db: Database) -> None:
    applicant = await submitted(h)
    boss = admin(h)
    await boss.press(texts.BTN_REJECT)
    await boss.press(texts.DEFAULT_REJECT_REASONS[1])
    row = await request_row(db)
    assert row.status == "rejected" and row.decision_reason == texts.DEFAULT_REJECT_REASONS[1]
    assert texts.DEFAULT_REJECT_REASONS[1] in applicant.last.plain
    sent = await applicant.send("/my")
    assert "отклонена" in sent[-1].plain and texts.DEFAULT_REJECT_REASONS[1] in sent[-1].plain


async def test_reject_with_a_typed_reason(h: Harness, db: Database) -> None:
    applicant = await submitted(h)
    boss = admin(h)
    await boss.press(texts.BTN_REJECT)
    sent = await boss.press(texts.BTN_OTHER_REASON)
    assert "причину отказа" in sent[-1].plain
    await boss.reply("Нет приказа о назначении <ответственным>")
    row = await request_row(db)
    assert row.status == "rejected"
    assert row.decision_reason == "Нет приказа о назначении <ответственным>"
    assert "Нет приказа о назначении &lt;ответственным&gt;" in applicant.last.html
    assert h.session.refusals == []


async def test_return_fix_resubmit_approve(h: Harness, db: Database) -> None:
    applicant = await submitted(h)
    boss = admin(h)
    await boss.press(texts.BTN_RETURN)
    await boss.press("▫️ ФИО")
    await boss.press("▫️ Эл. почта")
    await boss.press(texts.BTN_NEXT)
    await boss.reply("Укажите ФИО как в Госуслугах и личную почту")
    row = await request_row(db)
    assert row.status == "returned" and row.return_fields == ["full_name", "email"]
    assert "Укажите ФИО как в Госуслугах" in applicant.last.plain

    sent = await applicant.press("✏️ Исправить заявку № 1")
    assert "Исправление заявки № 1" in sent[-1].plain
    assert "фамилию, имя и отчество" in sent[-1].plain
    await applicant.send("Иванова-Петрова Мария Петровна")
    sent = await applicant.send("m.ivanova@example.ru")
    summary = sent[-1]
    assert "Проверьте заявку" in summary.plain
    assert [b for b in summary.buttons if b.startswith("✏️")] == ["✏️ ФИО", "✏️ Эл. почта"]
    await applicant.press("📨 Отправить")
    assert "отправлена повторно" in applicant.last.plain

    row = await request_row(db)
    assert row.status == "submitted" and row.return_fields is None
    assert row.full_name == "Иванова-Петрова Мария Петровна"
    assert row.email == "m.ivanova@example.ru"
    card = cards(h)[-1]
    assert "Исправлено после доработки" in card.plain
    assert "ФИО: Иванова Мария Петровна → Иванова-Петрова Мария Петровна" in card.plain
    assert card.buttons[0] == texts.BTN_APPROVE
    await boss.press(texts.BTN_APPROVE)
    assert (await request_row(db)).status == "approved"
    assert [e[0] for e in await events(db)] == ["created", "returned", "resubmitted", "approved"]
    assert h.unanswered_callbacks() == [] and h.session.refusals == []


async def test_returned_request_can_be_fixed_from_my_requests(h: Harness, db: Database) -> None:
    applicant = await submitted(h)
    boss = admin(h)
    await boss.press(texts.BTN_RETURN)
    await boss.press("▫️ Организация")
    await boss.press(texts.BTN_NEXT)
    await boss.reply("Выберите головную организацию")
    sent = await applicant.send("/my")
    assert "возвращена на доработку" in sent[-1].plain
    assert "Выберите головную организацию" in sent[-1].plain
    await applicant.press("✏️ Исправить заявку № 1")
    await applicant.send("ЦРБ Б")
    sent = await applicant.press("2. ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ Б»")
    assert "Проверьте заявку" in sent[-1].plain
    await applicant.press("📨 Отправить")
    row = await request_row(db)
    assert row.status == "submitted" and row.org_short_name == "ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ Б»"
    assert row.snils == "112-233-445 95"  # not returned, not changed


async def test_return_needs_a_field(h: Harness) -> None:
    await submitted(h)
    boss = admin(h)
    await boss.press(texts.BTN_RETURN)
    await boss.press(texts.BTN_NEXT)
    assert boss.last_answer_text() == texts.PICK_AT_LEAST_ONE


async def test_change_role_then_approve(h: Harness, db: Database) -> None:
    applicant = h.user(1001)
    await to_organization(applicant)
    await applicant.send("ЦРБ")
    await applicant.press("1. ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»")
    await applicant.press("Моей должности нет в списке")
    await applicant.send("Заведующий онкологическим кабинетом")
    await applicant.press("📨 Отправить")
    boss = admin(h)
    await boss.press(texts.BTN_APPROVE)
    assert boss.last_answer_text() == texts.ROLE_NEEDED
    assert (await request_row(db)).status == "submitted"
    await boss.press(texts.BTN_CHANGE_ROLE)
    await boss.press("Куратор 1 уровня")
    await boss.reply("Кабинет ведёт учёт в МО")
    row = await request_row(db)
    assert (row.role, row.role_level) == ("Куратор 1 уровня", "Медицинская организация РФ")
    assert "Куратор 1 уровня" in applicant.last.plain
    await boss.press(texts.BTN_APPROVE)
    assert (await request_row(db)).status == "approved"
    assert [e[0] for e in await events(db)] == ["created", "role_changed", "approved"]


async def test_two_admins_at_once_make_one_decision(
    h: Harness, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two admins press «Одобрить» together. Each handler has read the request as submitted;
    # both are held just before deciding until the other got there too, so both decisions
    # really race (on SQLite nothing would otherwise interleave them). The compare-and-set
    # at the database lets one win.
    await submitted(h)
    first, second = admin(h, ADMIN_ID, "Ольга"), admin(h, ADMIN2_ID, "Пётр")
    card, approve = first.find_button(texts.BTN_APPROVE)
    both_read = Rendezvous(2)
    decide = admin_handlers.apply_decision

    async def held(*args: Any, **kwargs: Any) -> str | None:
        await both_read.arrive()
        return await decide(*args, **kwargs)

    monkeypatch.setattr(admin_handlers, "apply_decision", held)
    update_a, _ = first.callback_update(card, approve)
    update_b, _ = second.callback_update(card, approve)
    async with asyncio.timeout(TIMEOUT):
        await asyncio.gather(h.feed(update_a), h.feed(update_b))
    assert len(both_read.arrived) == 2  # both were deciding at once
    async with db.read() as session:
        decisions = await session.scalar(
            select(func.count()).select_from(RequestEvent).where(RequestEvent.action == "approved")
        )
    assert decisions == 1
    row = await request_row(db)
    answers = [
        c.text for c in h.session.calls if type(c).__name__ == "AnswerCallbackQuery" and c.text
    ]
    assert len(answers) == 1 and answers[0].startswith("Решение уже принято: одобрена")
    winner = "Ольга" if row.decided_by == ADMIN_ID else "Пётр"
    assert winner in answers[0]
    assert cards(h)[-1].buttons == []
    assert h.unanswered_callbacks() == []


async def test_a_press_by_someone_who_is_not_an_admin_changes_nothing(
    h: Harness, db: Database
) -> None:
    await submitted(h)
    stranger = admin(h, STRANGER_ID, "Гость")
    card, approve = stranger.find_button(texts.BTN_APPROVE)
    await stranger.press_data(card, approve)
    assert stranger.last_answer_text() == texts.NO_ACCESS
    replay = h.user(STRANGER_ID)  # the same callback data replayed from a private chat
    await replay.press_data(
        Sent(STRANGER_ID, card.message_id, card.html, card.plain, card.entities, card.markup),
        approve,
    )
    assert replay.last_answer_text() == texts.NO_ACCESS
    sent = await stranger.send("/queue")
    assert sent[-1].plain == texts.NO_ACCESS
    assert (await request_row(db)).status == "submitted"
    assert [e[0] for e in await events(db)] == ["created"]


async def test_operator_is_not_an_admin(h: Harness, db: Database) -> None:
    await submitted(h)
    async with db.write() as session:
        await staff.add(session, ADMIN_ID, STRANGER_ID, staff.StaffRole.OPERATOR)
    operator = admin(h, STRANGER_ID)
    await operator.press(texts.BTN_APPROVE)
    assert operator.last_answer_text() == texts.NO_ACCESS
    assert (await request_row(db)).status == "submitted"


async def test_back_restores_the_decision_buttons(h: Harness, db: Database) -> None:
    await submitted(h)
    boss = admin(h)
    await boss.press(texts.BTN_REJECT)
    assert texts.BTN_OTHER_REASON in cards(h)[-1].buttons
    await boss.press(texts.BTN_CARD_BACK)
    assert cards(h)[-1].buttons[0] == texts.BTN_APPROVE
    await boss.press(texts.BTN_APPROVE)
    assert (await request_row(db)).status == "approved"
    assert cards(h)[-1].buttons == []


async def test_only_a_reply_to_the_prompt_is_taken_as_a_reason(h: Harness, db: Database) -> None:
    await submitted(h)
    boss = admin(h)
    await boss.press(texts.BTN_REJECT)
    await boss.press(texts.BTN_OTHER_REASON)
    prompt = boss.last
    await boss.send("коллеги, кто смотрит № 1?")  # chatter in the group, not a reply
    await boss.send("/queue")  # a command is a command
    colleague = admin(h, ADMIN2_ID, "Пётр")
    await colleague.send("Не знаю", reply_to=prompt)  # another admin's reply
    assert (await request_row(db)).status == "submitted"
    await boss.send("Не та организация", reply_to=prompt)
    row = await request_row(db)
    assert row.status == "rejected" and row.decision_reason == "Не та организация"


async def test_a_pending_reason_expires_and_can_be_cancelled(h: Harness, db: Database) -> None:
    await submitted(h)
    boss = admin(h)
    await boss.press(texts.BTN_REJECT)
    await boss.press(texts.BTN_OTHER_REASON)
    prompt = boss.last
    key = StorageKey(bot_id=BOT_ID, chat_id=ADMIN_CHAT, user_id=ADMIN_ID, destiny=INPUT_DESTINY)
    data = await h.dp.storage.get_data(key)
    await h.dp.storage.set_data(key, {**data, "at": "2020-01-01T00:00:00+00:00"})
    await boss.send("Поздно", reply_to=prompt)
    assert (await request_row(db)).status == "submitted"
    sent = await boss.send("/cancel")
    assert sent[-1].plain == texts.INPUT_CANCELLED
    assert await h.dp.storage.get_data(key) == {}


async def test_the_longest_card_still_fits_a_message(h: Harness, db: Database) -> None:
    applicant = h.user(1001)
    await to_organization(applicant)
    await applicant.send("нет такой")
    await applicant.press("Нет в списке")
    await applicant.send("Больница " + "очень длинного названия " * 20)  # ≈ 500 characters
    await applicant.send("Б" + "о" * 199)
    await applicant.press("Моей должности нет в списке")
    await applicant.send("Врач " + "онколог " * 36)  # ≈ 300 characters
    await applicant.press("📨 Отправить")
    boss = admin(h)
    await boss.press(texts.BTN_RETURN)
    await boss.press("▫️ Организация")
    await boss.press("▫️ Должность и роль")
    await boss.press(texts.BTN_NEXT)
    await boss.reply("Исправьте " * 100)
    await applicant.press("✏️ Исправить заявку № 1")
    await type_organization(
        applicant, "Клиника " + "другого очень длинного названия " * 15, "К" + "л" * 199
    )
    await applicant.press("Моей должности нет в списке")
    await applicant.send("Заведующий " + "отделением " * 26)
    await applicant.press("📨 Отправить")
    await boss.press(texts.BTN_CHANGE_ROLE)
    await boss.press("Куратор 1 уровня")
    await boss.reply("Причина " * 120)
    await boss.press(texts.BTN_REJECT)
    await boss.press(texts.BTN_OTHER_REASON)
    await boss.reply("Отказ " * 160)
    assert (await request_row(db)).status == "rejected"
    assert h.session.refusals == []
    assert cards(h)[-1].buttons == [] and "❌ Отклонена" in cards(h)[-1].plain
    sent = await boss.send("/history 1")
    assert "История заявки № 1" in sent[-1].plain
    sent = await applicant.send("/my")
    assert "отклонена" in sent[-1].plain
    assert h.session.refusals == []


async def test_back_while_fixing_does_not_skip_a_returned_field(h: Harness, db: Database) -> None:
    applicant = await submitted(h)
    boss = admin(h)
    await boss.press(texts.BTN_RETURN)
    await boss.press("▫️ ФИО")
    await boss.press("▫️ Эл. почта")
    await boss.press(texts.BTN_NEXT)
    await boss.reply("Проверьте ФИО и почту")
    await applicant.press("✏️ Исправить заявку № 1")
    await applicant.send("Иванова Мария")
    await applicant.press("⬅️ Назад")  # from the e-mail step back to the name
    sent = await applicant.send("Иванова Мария Петровна")
    assert "адрес электронной почты" in sent[-1].plain  # the e-mail is still asked
    sent = await applicant.send("maria@example.ru")
    assert "Проверьте заявку" in sent[-1].plain
