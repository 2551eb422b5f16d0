"""The streamed export (built so that 100,000 requests do not stall the bot) is the same table
as the export it replaced, keeps the printed layout, sizes rows for their wrapped text (so a
printed request never runs over the next), and marks nothing unless its files were built."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import re
import zipfile
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.page import PageMargins
from sqlalchemy import func, select, update

from db.database import Database
from db.models import AccessRequest, ExportAudit, ExportBatch, RequestEvent, utcnow
from services import export
from services.export import as_text, batches
from services.export.columns import COLUMNS, WIDTHS, write_sheet
from services.export.files import _postgres_rows, _sqlite_rows, csv_lines, write_form
from services.export.layout import LINE_POINTS, wrapped_lines
from services.export.stream import CELL_LIMIT, SHEET_PART, SheetStream
from services.export.xlsx import Sheet, XlsxError
from services.requests import Status, decide, submit
from services.snils import check_number, format_snils
from tests.support.admin import admin
from tests.support.harness import Harness
from tests.test_requests_service import NEW

LONG_ORG = (
    "Областное государственное бюджетное учреждение здравоохранения «Галичская "
    "центральная районная больница имени заслуженного врача РФ А. А. Иванова»"
)
# (SNILS, name, e-mail, organisation full, short, role): leading zeros, a formula-like
# organisation typed by hand, no role yet, a long hyphenated name, quotes and a semicolon.
PEOPLE = [
    ("006-012-788 00", "Иванова Мария Петровна", "m.ivanova@example.ru", LONG_ORG,
     "ОГБУЗ «Галичская ЦРБ»", "Куратор 1 уровня"),
    ("112-233-445 95", "Салтыков-Щедрин Михаил Евграфович", "saltykov@example.ru",
     '=HYPERLINK("http://example.com","Больница")', "-Больница", None),
    ("431-052-771 35", "Мамедов Эльдар Оглы", "e.mamedov;x@example.ru",
     "Поликлиника «Здоровье»; филиал № 2", "+Здоровье", "Куратор 2 уровня"),
]  # fmt: skip


def rows() -> list[tuple[Any, ...]]:
    return [
        (10 + i, snils, name, email, "Костромская область", full, short, "ВИМИС ОНКО", role)
        for i, (snils, name, email, full, short, role) in enumerate(PEOPLE)
    ]


def reference_xlsx(source: list[tuple[Any, ...]]) -> bytes:
    """The export as it was written before the streamed one (openpyxl, a style per cell)."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Заявка ВИМИС ОНКО"
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top", horizontal="center")
    for number, row in enumerate(source, start=2):
        values = [number - 1, *row[1:8], row[8] or ""]
        for column, value in enumerate(values, start=1):
            cell = sheet.cell(row=number, column=column)
            cell.value = value
            if isinstance(value, str):
                cell.data_type = "s"
                cell.number_format = "@"
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for index, width in enumerate(WIDTHS, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = width
    sheet.row_dimensions[1].height = 75
    sheet.freeze_panes = "A2"
    sheet.print_title_rows = "1:1"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_margins = PageMargins(left=0.4, right=0.4, top=0.5, bottom=0.5)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def reference_csv(source: list[tuple[Any, ...]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for number, row in enumerate(source, start=1):
        values = [number, *row[1:8], row[8] or ""]
        writer.writerow([as_text(v) if isinstance(v, str) else v for v in values])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def cells(data: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    return [[c.value for c in row] for row in sheet.iter_rows()]


@pytest.mark.parametrize(
    ("process_after", "announced"),
    [(1, None), (1, 3), (1000, None)],
    ids=["own process", "own process, streamed", "this thread"],
)
def test_the_same_table_as_before(
    tmp_path: Path, process_after: int, announced: int | None
) -> None:
    chunk = [(*row[1:9], row[0]) for row in rows()]
    files = write_form([chunk], tmp_path, "form", process_after=process_after, rows=announced)
    assert files.request_ids == [10, 11, 12]
    assert cells(files.xlsx.read_bytes()) == cells(reference_xlsx(rows()))
    assert files.csv.read_bytes() == reference_csv(rows())
    # Text stays text, even what looks like a formula or a number.
    sheet = load_workbook(files.xlsx).worksheets[0]
    for cell in ("B2", "F3", "G3", "G4"):
        assert sheet[cell].data_type == "s" and sheet[cell].number_format == "@", cell
    assert sheet["F3"].value.startswith("=HYPERLINK")


def test_csv_lines_are_what_the_csv_writer_writes() -> None:
    """Rows with nothing to quote are joined directly (csv_lines): every other kind of row
    must still come out exactly as csv's writer writes it."""
    tricky = [
        "обычный текст",
        'ГБУЗ "Областная больница"',
        "строка\nперенос",
        "возврат\rкаретки",
        "точка;с запятой",
        "\tтабуляция",
        "",
        None,
        "пробел в конце ",
    ]
    tail = ("a@example.ru", "Регион", "Полное", "Краткое", "ВИМИС", "")
    source = [(n, "006-012-788 00", value, *tail) for n, value in enumerate(tricky, 1)]
    expected = io.StringIO()
    csv.writer(expected, delimiter=";", lineterminator="\r\n").writerows(source)
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    assert csv_lines(source, writer, text) == expected.getvalue()
    assert csv_lines([], writer, text) == ""


# Text rust_xlsxwriter escapes in its own ways: markup characters, control characters as
# `_xHHHH_`, a literal `_xHHHH_`, edge spaces kept, an empty text (no cell).
ESCAPED = [
    "обычный текст", "a\tb", "a\nb", "\nв начале", "в конце\n", "\tтаб", "x\x01y", "_x0041_",
    "_x0041_x0042_@example.ru", "a_x0020_x0020_x0020_b", "_x00", "x" * CELL_LIMIT,
    "a\rb", "\rв начале", "€ü", "a]]>b & <c>", "'", "100", "=1+1", "\u200b", "a\x7fb", "\ufffe",
    " пробелы ", "", LONG_ORG,
]  # fmt: skip


def escaped_rows() -> list[tuple[Any, ...]]:
    """Every third organisation long (rows of several lines), every other role empty."""
    return [
        (n, "006-012-788 00", text, "e@example.ru", "Регион",
         LONG_ORG if n % 3 == 0 else text or "x", "к", "ВИМИС", "р" * (n % 2))
        for n, text in enumerate(ESCAPED, 1)
    ]  # fmt: skip


def package(path: Path | io.BytesIO) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as opened:
        return [(name, opened.read(name)) for name in opened.namelist()]


def test_the_streamed_sheet_is_the_one_rust_xlsxwriter_streams(tmp_path: Path) -> None:
    """Rows streamed as they come (stream.py) are the very package rust_xlsxwriter's
    streaming mode writes, part by part and byte by byte, whenever that mode's output is
    sound (the last row of one line)."""
    # Chunks of plain text (written a row at a time) around one with every escape (a cell at
    # a time); the last row of one line.
    plain = [(n, "006-012-788 00", "Иванова Мария", "m@example.ru", "Регион", LONG_ORG, "ОГБУЗ",
              "ВИМИС ОНКО", "Куратор") for n in (1, 2)]  # fmt: skip
    tricky = [(n + 2, *row[1:]) for n, row in enumerate(escaped_rows(), 1)]
    last = (len(tricky) + 3, "1", "a", "b", "c", "d", "e", "f", "g")
    source = [*plain, *tricky, last]
    sheet = Sheet()
    sheet.add(source)
    assert len(sheet.heights) > 2  # rows of several lines, not only the header
    library = io.BytesIO()
    write_sheet(sheet._records(), library, sheet.heights, in_memory=False)
    stream = SheetStream(str(tmp_path / "s.xlsx"), len(source))
    for chunk in (plain, tricky, [last]):
        stream.add(chunk)
    stream.close()
    assert package(tmp_path / "s.xlsx") == package(library)


def test_the_streamed_sheet_gives_the_last_row_its_height_once(tmp_path: Path) -> None:
    """rust_xlsxwriter's streaming mode writes a tall last row twice (a file Excel calls
    damaged); the streamed sheet writes every row once, each as tall as the in-memory sheet
    makes it."""
    # The last: a long organisation, several lines. (Without the escaped texts: openpyxl
    # does not decode `_xHHHH_` in a sheet's own strings, LibreOffice and Excel do.)
    last = (13, "123-456-789 64", "Петров Пётр", "p@example.ru", "Регион", LONG_ORG, "к", "В", "р")
    source = [*rows(), last]
    stream = SheetStream(str(tmp_path / "s.xlsx"), len(source))
    stream.add(source)
    stream.close()
    with zipfile.ZipFile(tmp_path / "s.xlsx") as opened:
        xml = opened.read(SHEET_PART).decode()
    numbers = [int(n) for n in re.findall(r'<row r="(\d+)"', xml)]
    assert numbers == list(range(1, len(source) + 2))
    assert f'<dimension ref="A1:I{len(source) + 1}"/>' in xml
    sheet = Sheet()
    sheet.add(source)
    sheet.write(str(tmp_path / "m.xlsx"))
    streamed, in_memory = (load_workbook(tmp_path / n).worksheets[0] for n in ("s.xlsx", "m.xlsx"))
    assert streamed.row_dimensions[len(source) + 1].height is not None
    assert [[c.value for c in r] for r in streamed.iter_rows()] == [
        [c.value for c in r] for r in in_memory.iter_rows()
    ]
    for row in range(1, len(source) + 2):
        assert streamed.row_dimensions[row].height == in_memory.row_dimensions[row].height, row


def test_a_text_longer_than_excel_takes_is_refused_by_both_writers(tmp_path: Path) -> None:
    """Excel keeps 32,767 characters in a cell; rust_xlsxwriter refuses more, and so does the
    streamed sheet (the export fails with a message, never a file Excel would cut)."""
    row = (1, "006-012-788 00", "Имя", "e@example.ru", "Регион", "й" * 32_768, "к", "В", "р")
    sheet = Sheet()
    sheet.add([row])
    with pytest.raises(RuntimeError):
        sheet.write(str(tmp_path / "m.xlsx"))
    stream = SheetStream(str(tmp_path / "s.xlsx"), 1)
    with pytest.raises(ValueError, match="32768"):
        stream.add([row])
    stream.abandon()


@pytest.mark.parametrize("announced", [2, 4])
def test_a_stream_told_a_different_number_of_rows_fails(tmp_path: Path, announced: int) -> None:
    """The sheet's size is written before its first row: a different number of rows is an
    error, never a file whose size says something else."""
    chunk = [(*row[1:9], row[0]) for row in rows()]
    with pytest.raises(XlsxError):
        write_form([chunk], tmp_path, "f", process_after=1, rows=announced)


def test_many_rows_through_the_process_in_chunks(tmp_path: Path) -> None:
    many = [replace_id(row, 100 + i) for i, row in enumerate(rows() * 700)]
    files = export.write_files(many, tmp_path, "form", process_after=500)
    table = cells(files.xlsx.read_bytes())
    assert len(table) == 2101 and [r[0] for r in table[1:]] == list(range(1, 2101))
    assert table[2100][2] == PEOPLE[2][1]
    assert files.csv.read_bytes() == reference_csv(many)


def replace_id(row: tuple[Any, ...], request_id: int) -> tuple[Any, ...]:
    return (request_id, *row[1:])


def column_widths(sheet: Any) -> list[float]:
    """Widths by column (openpyxl keeps adjacent columns of one width as one entry)."""
    widths = {}
    for dimension in sheet.column_dimensions.values():
        for index in range(dimension.min, dimension.max + 1):
            widths[index] = dimension.width
    return [widths[index] for index in range(1, 10)]


def test_the_printed_layout(tmp_path: Path) -> None:
    data = export.write_files(rows(), tmp_path, "f").xlsx.read_bytes()
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    widths = column_widths(sheet)
    # openpyxl reads back the width Excel stores (the characters plus the cell's padding).
    assert [round(w) for w in widths] == [round(w + 0.71) for w in WIDTHS]
    assert all(sheet.cell(1, c).alignment.wrap_text for c in range(1, 10))
    assert all(sheet.cell(1, c).font.b for c in range(1, 10))
    filled = [sheet.cell(r, c) for r in (2, 3, 4) for c in range(1, 10)]
    assert all(cell.alignment.wrap_text for cell in filled if cell.value is not None)
    assert sheet.page_setup.orientation == "landscape"
    assert int(sheet.page_setup.paperSize) == int(sheet.PAPERSIZE_A4)
    # One page wide (1 is the default, which the file may leave out), as many pages tall.
    assert sheet.page_setup.fitToWidth in (None, 1) and sheet.page_setup.fitToHeight == 0
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.freeze_panes == "A2"
    assert sheet.print_title_rows.replace("$", "") == "1:1"
    assert sheet.title == "Заявка ВИМИС ОНКО"
    # Every row once, in order: Excel reports a file with a repeated row as damaged.
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert re.findall(r'<row r="(\d+)"', xml) == ["1", "2", "3", "4"]


def test_rows_are_as_tall_as_their_wrapped_text(tmp_path: Path) -> None:
    sheet = load_workbook(export.write_files(rows(), tmp_path, "f").xlsx).worksheets[0]
    header = sheet.row_dimensions[1].height
    assert header is not None and header >= 5 * LINE_POINTS  # the longest title: five lines
    for row in (2, 3, 4):
        height = sheet.row_dimensions[row].height
        assert height is not None, f"row {row} left at the default height"
        for column in range(2, 10):
            text = str(sheet.cell(row, column).value or "")
            lines = wrapped_lines(text, WIDTHS[column - 1])
            assert height >= lines * LINE_POINTS, (row, column, text)
    # The long name of the organisation takes three lines of its 44-character column.
    assert sheet.row_dimensions[2].height >= 3 * LINE_POINTS


def test_line_counts_of_known_texts() -> None:
    assert wrapped_lines("Костромская область", 16) == 2  # 19 letters in a 16-wide column
    assert wrapped_lines("ВИМИС ОНКО", 20) == 1
    assert wrapped_lines("006-012-788 00", 16) == 1
    assert wrapped_lines(LONG_ORG, 44) == 4
    assert wrapped_lines("Областное", 4) == 3  # a word wider than the column is broken
    assert wrapped_lines("", 10) == 1


async def approved(db: Database, count: int) -> list[int]:
    ids = []
    async with db.write() as session:
        for n in range(count):
            digits = f"{500_000_000 + n:09d}"
            new = replace(
                NEW,
                account_id=6000 + n,
                snils=format_snils(digits + f"{check_number(digits):02d}"),
                email=f"s{n}@example.ru",
            )
            result = await submit(session, new)
            request_id = result.request.id  # type: ignore[union-attr]
            await decide(session, request_id, Status.APPROVED, actor_id=1)
            ids.append(request_id)
    return ids


async def count(db: Database, model: Any, *where: Any) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)))


async def test_a_file_that_cannot_be_built_marks_nothing(
    h: Harness, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await approved(db, 3)

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Sheet, "write", broken)
    await admin(h).send("/export")
    assert [f for f in h.session.files if f.kind == "document"] == []
    assert await count(db, AccessRequest, AccessRequest.status == "approved") == 3
    assert await count(db, ExportBatch) == 0
    assert await count(db, RequestEvent, RequestEvent.action == "exported") == 0
    monkeypatch.undo()
    sent = await admin(h).send("/export")
    assert any("Выгрузка № 1: заявок 3" in m.plain for m in sent)
    assert await count(db, AccessRequest, AccessRequest.status == "exported") == 3


async def test_a_big_batch_is_marked_in_short_transactions(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await approved(db, 5)
    monkeypatch.setattr(batches, "MARK_CHUNK", 2)
    transactions = 0
    write = db.write

    def counting() -> Any:
        nonlocal transactions
        transactions += 1
        return write()

    monkeypatch.setattr(db, "write", counting)
    result = await export.run_new(db, 1, tmp_path, "f")
    assert result.batch_id == 1 and [i for i, _ in result.marked] == ids
    assert transactions == 4  # 2 + 2 + 1 requests marked, then the export's audit row
    async with db.read() as session:
        batch = await session.get(ExportBatch, 1)
        assert batch is not None and batch.size == 5
        events = (
            await session.scalars(select(RequestEvent).where(RequestEvent.action == "exported"))
        ).all()
    assert sorted(e.request_id for e in events) == ids
    assert all(e.details == {"reason": None, "batch": 1} for e in events)
    assert all((e.from_status, e.to_status) == ("approved", "exported") for e in events)
    # The export itself is one audit row, not a `viewed` event per request.
    assert await count(db, RequestEvent, RequestEvent.action == "viewed") == 0
    assert await count(db, ExportAudit) == 1


async def test_an_export_is_one_audit_row_with_its_files_digests(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await approved(db, 5)
    (tmp_path / "new").mkdir()
    (tmp_path / "again").mkdir()
    first = await export.run_new(db, 1, tmp_path / "new", "f")
    assert first.files is not None
    events_before = await count(db, RequestEvent)
    transactions = 0
    write = db.write

    def counting() -> Any:
        nonlocal transactions
        transactions += 1
        return write()

    monkeypatch.setattr(db, "write", counting)
    again = await export.run_again(db, 7, tmp_path / "again", "g", "all")
    assert again.batch_id is None and again.count == 5 and again.files is not None
    assert transactions == 1  # one row, whatever the number of requests
    assert await count(db, RequestEvent) == events_before  # no event per request
    async with db.read() as session:
        rows = (await session.scalars(select(ExportAudit).order_by(ExportAudit.id))).all()
    assert [(r.actor_id, r.cli, r.selection, r.batch_id, r.count) for r in rows] == [
        (1, False, "new", 1, 5),
        (7, False, "all", None, 5),
    ]
    assert all(r.request_ids == ids and (r.first_id, r.last_id) == (1, 5) for r in rows)
    for row, files in ((rows[0], first.files), (rows[1], again.files)):
        assert row.files == {
            "xlsx": hashlib.sha256(files.xlsx.read_bytes()).hexdigest(),
            "csv": hashlib.sha256(files.csv.read_bytes()).hexdigest(),
        }


async def test_a_request_cancelled_while_the_file_is_built_is_left_out(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await approved(db, 3)
    build = export.build
    calls = 0

    async def build_then_withdraw(*args: Any) -> export.ExportFiles:
        nonlocal calls
        calls += 1
        files = await build(*args)
        if calls == 1:  # the person withdraws consent meanwhile
            async with db.write() as session:
                await session.execute(
                    update(AccessRequest)
                    .where(AccessRequest.id == ids[1])
                    .values(status=Status.CANCELLED.value)
                )
        return files

    monkeypatch.setattr(batches, "build", build_then_withdraw)
    result = await export.run_new(db, 1, tmp_path, "f")
    assert result.files is not None and result.files.request_ids == [ids[0], ids[2]]
    assert [r[0] for r in cells(result.files.xlsx.read_bytes())[1:]] == [1, 2]
    assert calls == 2


async def test_the_command_line_export_builds_before_it_marks(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.__main__ import _export
    from tests.conftest import make_settings

    await approved(db, 2)
    monkeypatch.setattr(Sheet, "write", lambda *_a: (_ for _ in ()).throw(OSError()))
    settings = make_settings(str(db.url))
    with pytest.raises(OSError):
        await _export(settings, tmp_path / "x.xlsx", None, False)
    assert await count(db, AccessRequest, AccessRequest.status == "approved") == 2
    assert not (tmp_path / "x.xlsx").exists()


def test_formula_text_in_the_csv(tmp_path: Path) -> None:
    data = export.write_files(rows(), tmp_path, "f").csv.read_bytes().decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(data), delimiter=";"))
    assert table[2][5].startswith("'=HYPERLINK") and table[2][6] == "'-Больница"
    assert table[3][6] == "'+Здоровье" and table[3][3] == "e.mamedov;x@example.ru"


@pytest.mark.parametrize("child_after", [0, 1000], ids=["child process", "worker thread"])
async def test_the_database_makes_the_same_table(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, child_after: int
) -> None:
    """`build` reads the form's rows as the database numbers them (№, no role → empty) and
    writes them in chunks, in a child process that reads the database itself or on a worker
    thread: the same files as from the rows themselves, in the same order."""
    source = []
    async with db.write() as session:
        for n, (snils, name, email, full, short, role) in enumerate(PEOPLE * 3):
            new = replace(
                NEW,
                account_id=9000 + n,
                snils=snils,
                full_name=name,
                email=email,
                org_full_name=full,
                org_short_name=short,
                role=role,
                position_in_matrix=role is not None,  # no role: a post typed by hand
                component="ВИМИС ОНКО" if n < 3 else f"ВИМИС ОНКО {n}",
            )
            result = await submit(session, new)
            request = result.request  # type: ignore[union-attr]
            await decide(session, request.id, Status.APPROVED, actor_id=1)
            source.append(
                (request.id, snils, name, email, new.region, full, short, new.component, role)
            )
    monkeypatch.setattr(batches, "CHUNK", 2)  # several chunks, one with a formula, some not
    monkeypatch.setattr(batches, "CHILD_AFTER", child_after)
    files = await export.build(db, export.new_query(), tmp_path, "db")
    assert files.request_ids == [row[0] for row in source]
    assert files.csv.read_bytes() == reference_csv(source)
    assert cells(files.xlsx.read_bytes()) == cells(reference_xlsx(source))
    # A date range: its parameters reach the child as SQLAlchemy would bind them.
    since, until = date(2020, 1, 1), date(2099, 12, 31)
    again = await export.build(db, export.again_query(since=since, until=until), tmp_path, "a")
    assert again.request_ids == files.request_ids
    none = await export.build(db, export.again_query(until=date(2020, 1, 1)), tmp_path, "n")
    assert none.request_ids == []


async def test_a_child_build_that_fails_marks_nothing(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await approved(db, 3)
    monkeypatch.setattr(batches, "CHILD_AFTER", 0)
    with pytest.raises(XlsxError):  # the child cannot write where it is told
        await export.run_new(db, 1, tmp_path / "missing", "f")
    assert await count(db, AccessRequest, AccessRequest.status == "approved") == 3
    assert await count(db, ExportBatch) == 0
    made = await export.run_new(db, 1, tmp_path, "f")
    assert made.batch_id == 1 and made.count == 3


async def test_the_child_counts_and_reads_in_one_snapshot(db: Database, tmp_path: Path) -> None:
    """The sheet's size is written before its first row, so the child counts and reads the
    rows in one snapshot: a request erased (a withdrawal) between the two changes neither."""
    ids = await approved(db, 4)
    spec = batches._child_spec(db, export.form_query(export.again_query()), tmp_path, "f")
    read = _sqlite_rows if db.is_sqlite else _postgres_rows
    rows, chunks = await asyncio.to_thread(read, spec)  # its own event loop on PostgreSQL
    async with db.write() as session:
        await session.execute(
            update(AccessRequest).where(AccessRequest.id == ids[0]).values(erased_at=utcnow())
        )
    assert await count(db, AccessRequest, AccessRequest.erased_at.is_(None)) == 3
    read_rows = await asyncio.to_thread(lambda: [row for chunk in chunks for row in chunk])
    assert rows == len(read_rows) == 4
    assert [row[-1] for row in read_rows] == ids


def _alone_in_its_chunk(tmp_path: Path, organization: str) -> list[list[str]]:
    """The CSV of one request whose organisation is `organization`, and nothing else in the
    chunk that looks like a formula: the chunk's quick check alone decides."""
    row = (
        1,
        "006-012-788 00",
        "Иванова Мария Петровна",
        "m.ivanova@example.ru",
        "Костромская область",
        organization,
        "ЦРБ",
        "ВИМИС ОНКО",
        "Куратор 1 уровня",
    )
    data = export.write_files([row], tmp_path, "one").csv.read_bytes().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(data), delimiter=";"))


@pytest.mark.parametrize(
    "organization",
    ["@SUM(1+1)*cmd|' /C calc'!A0", "=1+1", "+1+1", "-1+1", "\t=1+1", "\r=1+1"],
    ids=["at", "equals", "plus", "minus", "tab", "return"],
)
def test_every_formula_start_is_made_text_when_alone_in_its_chunk(
    tmp_path: Path, organization: str
) -> None:
    """Excel and LibreOffice run a cell starting with any of these (`@` included: Lotus-style
    functions) as a formula; a typed organisation never runs."""
    table = _alone_in_its_chunk(tmp_path, organization)
    assert table[1][5] == "'" + organization


def test_a_quoted_formula_alone_in_its_chunk_is_made_text(tmp_path: Path) -> None:
    """A field with a quote is quoted by the CSV writer (`;"=HYPERLINK(""…`): the chunk's
    quick check must see the formula behind the opening quote."""
    link = '=HYPERLINK("http://example.com","Больница")'
    table = _alone_in_its_chunk(tmp_path, link)
    assert table[1][5] == "'" + link
