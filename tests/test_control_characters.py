"""Control and invisible characters in typed text are cleaned where text comes in, so a NUL in
an organisation name, a position or an admin's reason breaks neither «Отправить» (PostgreSQL
refuses NUL) nor the XLSX export (openpyxl refuses C0 controls), and the reason is kept
(security issue 10, point 3). Runs on PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from bot import texts
from bot.middlewares import clean_message
from db.database import Database
from services.typed_text import clean_text
from tests.support.admin import admin, request_row
from tests.support.dialog_steps import to_organization, type_organization
from tests.support.harness import Harness, Sent, to_message


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("ООО «Клиника»\x00", "ООО «Клиника»"),
        ("Врач\x07-онколог\x1b", "Врач-онколог"),
        ("a\x85b\x9fc", "abc"),  # C1 controls
        ("evil\u202eкод", "evilкод"),  # a bidi override
        ("Ива\u200bнова\ufeff", "Иванова"),  # zero-width space, byte-order mark
        ("раз\r\nдва\rтри\u2028четыре", "раз\nдва\nтри\nчетыре"),
        ("табуляция\tостаётся\nи строки", "табуляция\tостаётся\nи строки"),
        ("\ud800одинокий суррогат", "одинокий суррогат"),
        ("эмодзи 👩‍⚕️ без склейки", "эмодзи 👩⚕️ без склейки"),
    ],
)
def test_clean_text(typed: str, kept: str) -> None:
    assert clean_text(typed) == kept


async def test_nul_in_organisation_position_and_reason_breaks_nothing(
    h: Harness, db: Database
) -> None:
    applicant = h.user(1001)
    await to_organization(applicant)
    await type_organization(applicant, "ООО «Клиника\x00 Здоровье»\x01", "ООО «Клиника»\x00")
    await applicant.press(texts.BTN_POSITION_OTHER)
    await applicant.send("Врач\x00-онколог")
    sent = await applicant.press(texts.BTN_SUBMIT)
    assert "Заявка № 1" in sent[-1].plain
    row = await request_row(db, 1)
    assert (row.org_full_name, row.org_short_name, row.position) == (
        "ООО «Клиника Здоровье»",
        "ООО «Клиника»",
        "Врач-онколог",
    )

    boss = admin(h)
    await boss.press(texts.BTN_CHANGE_ROLE)
    await boss.press("Куратор 1 уровня")
    await boss.reply("Ведёт\x00 учёт")
    await boss.press(texts.BTN_APPROVE)
    await boss.send("/export")
    xlsx = [f for f in h.session.files if f.filename.endswith(".xlsx")][-1]
    sheet = load_workbook(io.BytesIO(xlsx.data)).worksheets[0]
    assert sheet.cell(row=2, column=6).value == "ООО «Клиника Здоровье»"

    other = h.user(1002)
    await to_organization(other, snils="431-052-771 35", email="petrov@example.ru")
    await other.send("ЦРБ")
    await other.press("1. ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»")
    await other.press("3. Главный врач")
    await other.press("Куратор 2 уровня")
    await other.press(texts.BTN_SUBMIT)
    await boss.press(texts.BTN_REJECT)
    await boss.press(texts.BTN_OTHER_REASON)
    await boss.reply("Нет\x00 приказа\x07 о назначении")
    row = await request_row(db, 2)
    assert (row.status, row.decision_reason) == ("rejected", "Нет приказа о назначении")
    assert "Нет приказа о назначении" in other.last.plain  # the reason reached the applicant
    assert texts.UNEXPECTED_ERROR not in [s.plain for s in h.session.log]
    assert h.session.refusals == []


def test_a_clean_message_is_passed_on_as_it_is() -> None:
    message = to_message(Sent(5, 1, "обычный текст", "обычный текст", [], None))
    assert clean_message(message) is message
    dirty = to_message(Sent(5, 2, "x\x00y", "x\x00y", [], None))
    cleaned = clean_message(dirty)
    assert cleaned.text == "xy" and cleaned.message_id == 2
