"""Export in the order's form, batches, re-exports, access granted."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from bot import texts
from db.database import Database
from db.models import AccessRequest, RequestEvent
from services import consent, export
from services.export import COLUMNS, batches
from services.requests import Status
from services.snils import check_number, format_snils
from tests.support.admin import admin, request_row, submitted
from tests.support.dialog_steps import to_organization, type_organization
from tests.support.harness import Harness, SentFile
from tests.test_retention import make, person

ORDER_HEADER = [
    "№ п/п",
    "СНИЛС",
    "Фамилия Имя Отчество",
    "Адрес электронной почты (должен быть уникальным для каждого пользователя)",
    "Субъект РФ",
    "Полное наименование медицинской организации",
    "Краткое наименование медицинской организации",
    "Наименование компонента ВИМИС, к которому необходимо предоставить доступ",
    "Наименование роли, которую необходимо присвоить (согласно матрице ролей)",
]


def snils(n: int) -> str:
    digits = f"{300_000_000 + n:09d}"
    return format_snils(digits + f"{check_number(digits):02d}")


async def approved(h: Harness, count: int, start: int = 0) -> None:
    boss = admin(h)
    for n in range(start, start + count):
        await submitted(h, 3000 + n, snils=snils(n), email=f"user{n}@example.ru")
        await boss.press(texts.BTN_APPROVE)


def files(h: Harness, suffix: str) -> list[SentFile]:
    return [f for f in h.session.files if f.filename.endswith(suffix)]


def read_xlsx(data: bytes) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


async def test_export_xlsx_has_the_order_columns_and_marks_a_batch(
    h: Harness, db: Database
) -> None:
    await approved(h, 2)
    sent = await admin(h).send("/export")
    assert ORDER_HEADER == list(COLUMNS)
    xlsx = files(h, ".xlsx")[-1]
    note = next(m for m in sent if "Выгрузка № 1: заявок 2" in m.plain)
    assert note.buttons == [texts.btn_granted(1)]
    rows = read_xlsx(xlsx.data)
    assert rows[0] == ORDER_HEADER
    assert rows[1] == [
        1,
        snils(0),
        "Иванова Мария Петровна",
        "user0@example.ru",
        "Костромская область",
        "ОБРАЗЕЦ (не реальные данные) Областное государственное бюджетное учреждение "
        "здравоохранения «Условная центральная районная больница А»",
        "ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»",
        "ВИМИС ОНКО",
        "Куратор 2 уровня",
    ]
    assert [r[0] for r in rows[1:]] == [1, 2]
    sheet = load_workbook(io.BytesIO(xlsx.data)).worksheets[0]
    assert sheet["B2"].data_type == "s" and sheet["B2"].number_format == "@"
    assert sheet.page_setup.orientation == "landscape"
    assert int(sheet.page_setup.paperSize) == int(sheet.PAPERSIZE_A4)  # 9 = A4
    assert sheet["A1"].alignment.wrap_text
    for number in (1, 2):
        row = await request_row(db, number)
        assert row.status == "exported" and row.export_batch_id == 1
    async with db.read() as session:
        exported = (
            await session.scalars(select(RequestEvent).where(RequestEvent.action == "exported"))
        ).all()
    assert sorted(e.request_id for e in exported) == [1, 2]


async def test_csv_opens_in_excel(h: Harness) -> None:
    await approved(h, 1)
    await admin(h).send("/export")
    data = files(h, ".csv")[-1].data
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ORDER_HEADER
    assert rows[1][:3] == ["1", snils(0), "Иванова Мария Петровна"]


async def test_second_export_takes_only_new_and_reexports_change_nothing(
    h: Harness, db: Database
) -> None:
    boss = admin(h)
    await approved(h, 2)
    await boss.send("/export")
    sent = await boss.send("/export")
    assert sent[-1].plain == texts.EXPORT_NOTHING
    await approved(h, 1, start=5)
    await boss.send("/export")
    assert len(read_xlsx(files(h, ".xlsx")[-1].data)) == 2  # header + the new one
    assert (await request_row(db, 3)).export_batch_id == 2

    await boss.send("/export all")
    assert len(read_xlsx(files(h, ".xlsx")[-1].data)) == 4
    await boss.send("/export 1")
    assert [r[1] for r in read_xlsx(files(h, ".xlsx")[-1].data)[1:]] == [snils(0), snils(1)]
    sent = await boss.send("/export 01.01.2020 31.12.2099")
    assert len(read_xlsx(files(h, ".xlsx")[-1].data)) == 4
    assert (await request_row(db, 1)).export_batch_id == 1
    sent = await boss.send("/export 01.01.2020")
    assert sent[-1].plain == texts.EXPORT_USAGE
    sent = await boss.send("/export 99")  # a mistyped number is not an empty batch
    assert sent[-1].plain == texts.export_no_batch(99)


async def test_granted_by_button_and_by_numbers(h: Harness, db: Database) -> None:
    boss = admin(h)
    await approved(h, 2)
    await boss.send("/export")
    applicant = h.user(3000)
    sent = await boss.press(texts.btn_granted(1))
    # (the cards' edits follow the answer: the outbox sends them after the update)
    assert texts.granted_done(2, 0) in [s.plain for s in sent]
    assert h.unanswered_callbacks() == []
    assert (await request_row(db, 1)).status == "access_granted"
    assert "доступ к ВИМИС ОНКО предоставлен" in applicant.last.plain
    sent = await boss.send("/granted 1 2")
    assert sent[-1].plain.startswith("Отмечено «доступ предоставлен»: 0.")
    await approved(h, 1, start=7)
    sent = await boss.send("/granted 3")
    assert "Пропущено" in sent[0].plain  # approved, not yet exported
    sent = await boss.send("/granted")
    assert sent[-1].plain == texts.GRANTED_USAGE


async def test_a_formula_typed_as_an_organization_stays_text(h: Harness) -> None:
    applicant = h.user(3100)
    await to_organization(applicant)
    await type_organization(applicant, '=HYPERLINK("http://example.com","Больница")', "-Больница")
    await applicant.press("3. Главный врач")
    await applicant.press("Куратор 2 уровня")
    await applicant.press("📨 Отправить")
    boss = admin(h)
    await boss.press(texts.BTN_APPROVE)
    await boss.send("/export")
    sheet = load_workbook(io.BytesIO(files(h, ".xlsx")[-1].data)).worksheets[0]
    assert sheet["F2"].data_type == "s"
    assert sheet["F2"].value == '=HYPERLINK("http://example.com","Больница")'
    assert sheet["G2"].data_type == "s" and sheet["G2"].value == "-Больница"
    data = files(h, ".csv")[-1].data.decode("utf-8-sig")
    row = list(csv.reader(io.StringIO(data), delimiter=";"))[1]
    assert row[5].startswith("'=HYPERLINK") and row[6] == "'-Больница"


async def test_caption_counts_requests_held_back_by_a_shared_address(
    h: Harness, db: Database
) -> None:
    """Two people's approved requests with one address (approved before approval refused such
    pairs) stay out of the batch, and the admin is told how many."""
    boss = admin(h)
    await approved(h, 3)
    async with db.write() as session:
        await session.execute(
            update(AccessRequest)
            .where(AccessRequest.id.in_([1, 2]))
            .values(email="Shared@example.ru")
        )
    sent = await boss.send("/export")
    note = next(m for m in sent if "Выгрузка № 1: заявок 1" in m.plain)
    assert "Не выгружено одобренных заявок: 2" in note.plain
    assert [r[3] for r in read_xlsx(files(h, ".xlsx")[-1].data)[1:]] == ["user2@example.ru"]
    sent = await boss.send("/export")
    assert sent[-1].plain.startswith(texts.EXPORT_NOTHING)
    assert "Не выгружено одобренных заявок: 2" in sent[-1].plain
    # Once one of the two changes address, both go out with the next batch: no note.
    async with db.write() as session:
        await session.execute(
            update(AccessRequest).where(AccessRequest.id == 2).values(email="own@example.ru")
        )
    sent = await boss.send("/export")
    note = next(m for m in sent if "Выгрузка № 2: заявок 2" in m.plain)
    assert "Не выгружено" not in note.plain


async def test_a_person_who_withdraws_while_the_batch_is_marked_is_not_in_the_file(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Marking goes MARK_CHUNK requests per transaction with a pause between: a request
    # marked in the first chunk is erased before the second, and the file built before
    # marking must not carry that person to the federal operator.
    first = await make(db, person(1), (Status.SUBMITTED, Status.APPROVED), 0)
    await make(db, person(2), (Status.SUBMITTED, Status.APPROVED), 0)
    monkeypatch.setattr(batches, "MARK_CHUNK", 1)
    withdrawn: list[int] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        if not withdrawn:  # between the first and the second chunk: person 1 withdraws
            withdrawn.append(1)
            async with db.write() as session:
                await consent.withdraw(session, 101)
        await real_sleep(0)

    class Clock:  # export's own view of asyncio, with the pause between chunks replaced
        def __getattr__(self, name: str) -> Any:
            return sleep if name == "sleep" else getattr(asyncio, name)

    monkeypatch.setattr(batches, "asyncio", Clock())
    result = await export.run_new(db, 1, tmp_path, "form")
    assert withdrawn and result.files is not None
    async with db.read() as session:
        row = await session.get(AccessRequest, first)
    assert row is not None and row.erased_at is not None
    written = result.files.csv.read_text(encoding="utf-8-sig")
    assert "Фамилия1" not in written and "Фамилия2" in written
