"""The admins' desk on MAX (MAX_ADMIN_CHAT_ID, no Telegram desk), through the real dispatcher
with the MAX harness: a card's «Вернуть на доработку» with its field ticks and «Сменить роль»,
/export's files and /stats' charts arriving in the MAX group."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator

import pytest
from openpyxl import load_workbook

from bot import texts
from bot.config import Settings
from db.database import Database
from services.requests import Status
from services.role_matrix import RoleMatrix
from tests.support.admin import request_row
from tests.support.max_desk import (
    APPLICANT,
    MAX_ADMIN,
    GroupMember,
    desk_settings,
    key,
    max_desks,
    submit_on_max,
)
from tests.support.max_harness import MaxHarness


@pytest.fixture
def settings(database_url: str) -> Settings:
    return desk_settings(database_url)


@pytest.fixture
async def mh(
    db: Database, settings: Settings, role_matrix: RoleMatrix, organizations: None
) -> AsyncIterator[MaxHarness]:
    async with max_desks(db, settings, role_matrix) as harness:
        yield harness


def boss(mh: MaxHarness, settings: Settings) -> GroupMember:
    assert settings.max_admin_chat_id is not None
    return GroupMember(mh, MAX_ADMIN, settings.max_admin_chat_id, "Ольга")


def applicant_sees(mh: MaxHarness, mark: int) -> list[str]:
    dialog = mh.mx.dialog_chat_id(APPLICANT)
    return [r.text or "" for r in mh.mx.sent[mark:] if r.chat_id == dialog]


async def test_return_with_ticked_fields_on_a_max_card_reaches_the_applicant(
    mh: MaxHarness, settings: Settings, db: Database
) -> None:
    number = await submit_on_max(mh, settings)
    olga = boss(mh, settings)
    card = mh.mx.last_message(olga.chat_id)
    assert f"Заявка № {number}" in (card.text or "") and texts.BTN_RETURN in card.buttons
    card_mid = card.mid

    await olga.press(texts.BTN_RETURN)
    assert olga.answer_text() == texts.pick_return_fields(number)
    shown = mh.mx.messages[card_mid]
    labels = [str(b["text"]) for b in shown.buttons]
    assert "▫️ ФИО" in labels and texts.BTN_NEXT in labels
    # Ticking edits the card's keyboard in place, each tick seen on the next press.
    await olga.press("▫️ ФИО")
    await olga.press("▫️ Эл. почта")
    labels = [str(b["text"]) for b in mh.mx.messages[card_mid].buttons]
    assert "✅ ФИО" in labels and "✅ Эл. почта" in labels and "▫️ СНИЛС" in labels
    await olga.press("✅ Эл. почта")  # untick
    labels = [str(b["text"]) for b in mh.mx.messages[card_mid].buttons]
    assert "✅ ФИО" in labels and "▫️ Эл. почта" in labels
    await olga.press("▫️ Эл. почта")
    (prompt,) = await olga.press(texts.BTN_NEXT)
    assert "вернуть на доработку поля «ФИО, Эл. почта»" in (prompt.text or "")

    mark = len(mh.mx.sent)
    done = await olga.send("Укажите ФИО <как в паспорте> & почту", reply_to=prompt.mid)
    assert texts.done_note(number, Status.RETURNED.value) in [r.text for r in done]
    told = "\n".join(applicant_sees(mh, mark))
    assert f"Заявка № {number} возвращена на доработку" in told
    assert "Укажите ФИО <как в паспорте> & почту" in told and "ФИО, Эл. почта" in told
    fix = mh.mx.last_message(mh.mx.dialog_chat_id(APPLICANT))
    assert texts.btn_fix(number) in fix.buttons
    row = await request_row(db, number)
    assert row.status == Status.RETURNED.value
    assert texts.STATUS_NAMES["returned"] in (mh.mx.messages[card_mid].text or "")
    await mh.assert_clean(key(APPLICANT), key(MAX_ADMIN))


async def test_change_role_on_a_max_card_reaches_the_applicant(
    mh: MaxHarness, settings: Settings, db: Database, role_matrix: RoleMatrix
) -> None:
    number = await submit_on_max(mh, settings)
    olga = boss(mh, settings)
    card_mid = mh.mx.last_message(olga.chat_id).mid
    await olga.press(texts.BTN_CHANGE_ROLE)
    new = role_matrix.roles[0]
    label = f"{new.name} — {new.level}"
    assert any(str(b["text"]).startswith(label[:40]) for b in mh.mx.messages[card_mid].buttons)
    (prompt,) = await olga.press(label[:40])
    assert f"новая роль «{new.name}»" in (prompt.text or "")

    mark = len(mh.mx.sent)
    done = await olga.send("По приказу № 12 от 01.12.2026", reply_to=prompt.mid)
    assert texts.done_note(number, Status.SUBMITTED.value) in [r.text for r in done]
    told = "\n".join(applicant_sees(mh, mark))
    assert f"№ {number}" in told and new.name in told and "По приказу № 12" in told
    row = await request_row(db, number)
    assert (row.role, row.role_level, row.status) == (new.name, new.level, "submitted")
    # The card shows the new role and its decision buttons again.
    card = mh.mx.messages[card_mid]
    assert new.name in (card.text or "") and texts.BTN_APPROVE in [
        str(b["text"]) for b in card.buttons
    ]
    await mh.assert_clean(key(APPLICANT), key(MAX_ADMIN))


async def test_export_files_and_stats_charts_arrive_in_the_max_group(
    mh: MaxHarness, settings: Settings, db: Database
) -> None:
    number = await submit_on_max(mh, settings)
    olga = boss(mh, settings)
    await olga.press(texts.BTN_APPROVE)
    assert (await request_row(db, number)).status == Status.APPROVED.value

    shown = await olga.send("/export")
    caption = shown[0]
    files = [r for r in shown if r.files]
    assert "Выгрузка № 1: заявок 1" in (caption.text or "")
    assert caption.buttons == [texts.btn_granted(1)]
    uploads = [f for record in files for f in record.files]
    names = sorted(u.filename or "" for u in uploads)
    assert len(files) == 2 and names[0].endswith(".csv") and names[1].endswith(".xlsx")
    assert all(u.type == "file" and u.uploaded for u in uploads)
    by_suffix = {(u.filename or "").rsplit(".", 1)[-1]: u.content for u in uploads}
    book = load_workbook(io.BytesIO(by_suffix["xlsx"]), read_only=True)
    cells = [c for row in book.worksheets[0].iter_rows(values_only=True) for c in row]
    assert "112-233-445 95" in cells and "ivanova@example.ru" in cells
    assert zipfile.is_zipfile(io.BytesIO(by_suffix["xlsx"]))
    assert "112-233-445 95" in by_suffix["csv"].decode("utf-8-sig")
    assert (await request_row(db, number)).status == Status.EXPORTED.value

    # The batch's button, pressed in the MAX group: granted, the applicant told on MAX.
    mark = len(mh.mx.sent)
    done = await olga.press(texts.btn_granted(1))
    assert texts.granted_done(1, 0) in [r.text for r in done]
    assert any("предоставлен" in t for t in applicant_sees(mh, mark))
    assert (await request_row(db, number)).status == Status.ACCESS_GRANTED.value

    shown = await olga.send("/stats")
    text = shown[0]
    charts = [r for r in shown if r.files]
    assert "Статистика заявок" in (text.text or "")
    assert f"{texts.STATUS_NAMES['access_granted']}: 1" in (text.text or "")
    images = [a for record in charts for a in record.attachments]
    assert len(charts) == 2 and [a["type"] for a in images] == ["image", "image"]
    assert all(f.content.startswith(b"\x89PNG") for r in charts for f in r.files)
    await mh.assert_clean(key(APPLICANT), key(MAX_ADMIN))
