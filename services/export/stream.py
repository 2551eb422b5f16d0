"""The form's sheet written row by row as the rows arrive, each with its height, in little
memory: for a large export, in the XLSX process (`write_received` in xlsx.py). The columns,
the look and `write_sheet`, whose package this fills: columns.py.

rust_xlsxwriter writes the whole package: the styles, the workbook with its print titles, the
page setup, the frozen header and the widths, for this form with the header and two rows
(`template`). Only the sheet's rows are written here, in the very markup rust_xlsxwriter's own
streaming (constant-memory) mode writes (a test compares the bytes). That mode cannot be used
itself: it wants every row's height before the first row, and it writes the last row's height
twice, which Excel reports as a damaged file. So the rows stream into the file as they come,
laid out one by one, and nothing but one chunk is held in memory.
"""

from __future__ import annotations

import functools
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from services.export.columns import COLUMNS, RowLayout, header_height, write_sheet
from services.export.layout import row_height

SHEET_PART = "xl/worksheets/sheet1.xml"
# zlib's fastest level: the sheet's markup is ≈ 1 KB a row and compresses well even so
# (≈ 9 MB at 100,000 rows against 6.5 MB at the default level, in a third of the time).
COMPRESSION_LEVEL = 1
LETTERS = "ABCDEFGHI"
# Text Excel would read as an escape, and characters XML cannot carry as they are.
# (A lookahead: in `_x0041_x0042_` both sequences are escaped, the second starting on the
# first's closing underscore.)
_LITERAL_ESCAPE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_EDGE_SPACE = " \t\n"
CELL_LIMIT = 32_767  # characters in a cell: Excel's limit, which rust_xlsxwriter refuses past
# For the check of a whole chunk: its texts joined by a character none of them should hold.
_SEPARATOR = "\x1f"
_CHARACTER_ESCAPE = re.compile(r"[&<>\x00-\x08\x0b-\x1e\ufffe\uffff]")


@dataclass(frozen=True)
class Template:
    """rust_xlsxwriter's package for the form, cut where the rows go."""

    parts_before: tuple[tuple[str, bytes], ...]  # the package's other parts, in its order
    parts_after: tuple[tuple[str, bytes], ...]
    before_rows: str  # the sheet up to its first data row, `{rows}` for its dimension
    after_rows: str  # from the end of the rows to the end of the sheet
    number_style: str  # the style index of the № column
    text_style: str  # … and of the text columns


@functools.cache
def template() -> Template:
    """The package rust_xlsxwriter writes for the header and two rows (two: a height on the
    last row would be written twice; the first row carries one, to show the markup)."""
    sample = [
        dict(zip(COLUMNS, (n, "СНИЛС", "ФИО", "почта", "регион", "п", "к", "c", "р"), strict=True))
        for n in (1, 2)
    ]
    buffer = io.BytesIO()
    write_sheet(sample, buffer, {0: header_height(), 1: row_height(2)}, in_memory=False)
    with zipfile.ZipFile(buffer) as package:
        sheet = package.read(SHEET_PART).decode("utf-8")
        names = package.namelist()
        at = names.index(SHEET_PART)
        before_sheet = tuple((name, package.read(name)) for name in names[:at])
        after_sheet = tuple((name, package.read(name)) for name in names[at + 1 :])
    first_row = sheet.index('<row r="2"')
    end_rows = sheet.index("</sheetData>")
    dimension = re.search(r'<dimension ref="A1:I3"/>', sheet)
    number = re.search(r'<c r="A2" s="(\d+)"><v>1\.0</v></c>', sheet)
    text = re.search(r'<c r="B2" s="(\d+)" t="inlineStr"><is><t>СНИЛС</t></is></c>', sheet)
    if dimension is None or number is None or text is None:
        raise RuntimeError("rust_xlsxwriter's sheet markup changed: see services/export/stream.py")
    before = sheet[:first_row].replace(dimension.group(0), '<dimension ref="A1:I{rows}"/>')
    return Template(
        before_sheet, after_sheet, before, sheet[end_rows:], number.group(1), text.group(1)
    )


def escape(text: str) -> str:
    """`text` as rust_xlsxwriter puts it in a cell: `_xHHHH_` kept literal, characters XML
    cannot carry as `_xHHHH_`, then the markup's own characters."""
    text = _LITERAL_ESCAPE.sub("_x005F_", text)
    text = _CONTROL.sub(lambda m: f"_x{ord(m.group(0)):04X}_", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(texts: list[Any]) -> bool:
    """Texts that go into cells as they are: all text, none empty, nothing to escape, no
    space at an edge (which would need `xml:space`)."""
    if not all(texts):
        return False
    try:
        joined = _SEPARATOR.join(texts)
    except TypeError:
        return False
    if joined.count(_SEPARATOR) != len(texts) - 1 or "_x" in joined:
        return False
    if max(map(len, texts), default=0) > CELL_LIMIT:
        return False
    if _CHARACTER_ESCAPE.search(joined) is not None:
        return False
    edge = _EDGE_SPACE
    return not any(text[0] in edge or text[-1] in edge for text in texts)


def _height(points: float) -> str:
    """A row height as rust_xlsxwriter writes it: rounded to whole pixels (¾ point)."""
    height = round(points * 4 / 3) * 0.75
    return str(int(height)) if height.is_integer() else repr(height)


class SheetStream:
    """Writes the form's XLSX to `path` as rows arrive: `add` chunks of (№, eight texts),
    then `close`. The number of rows is known before the first one (the sheet's dimension
    comes first); a different number is an error."""

    def __init__(self, path: str, rows: int) -> None:
        self._expected = rows
        self._written = 0
        self._layout = RowLayout()
        plan = template()
        self._plan = plan
        self._package = zipfile.ZipFile(
            path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESSION_LEVEL
        )
        self._sheet: IO[bytes] | None = None
        try:
            for name, data in plan.parts_before:
                self._package.writestr(name, data)
            self._sheet = self._package.open(SHEET_PART, "w", force_zip64=True)
            self._sheet.write(plan.before_rows.format(rows=rows + 1).encode("utf-8"))
        except BaseException:
            self.abandon()
            raise
        # The cells' markup after their reference: a number, then text; and a whole row of
        # nine cells to fill in with `str.format` (row number, №, the eight texts).
        self._number = f'" s="{plan.number_style}"><v>'
        self._text = f'" s="{plan.text_style}" t="inlineStr"><is><t'
        self._cells = f'<c r="A{{0}}{self._number}{{1}}.0</v></c>' + "".join(
            f'<c r="{letter}{{0}}{self._text}>{{{i}}}</t></is></c>'
            for i, letter in enumerate(LETTERS[1:], 2)
        )

    def add(self, rows: Iterable[Sequence[Any]]) -> None:
        if self._sheet is None:
            raise ValueError("rows added to a sheet that is not open")
        chunk = list(rows)
        r = self._written + 1  # the header is row 1
        self._written += len(chunk)
        if self._written > self._expected:
            raise ValueError(f"more rows than the {self._expected} announced")
        lay_out, out = self._layout.lay_out, []
        # Nearly every chunk is plain: each cell's text as it is, in one format per row.
        plain = _plain([v for row in chunk for v in row[1:]])
        cells, one_cell = self._cells, self._cell
        for values in chunk:
            r += 1
            lines, _ = lay_out(values)
            if lines > 1:
                out.append(f'<row r="{r}" ht="{_height(row_height(lines))}" customHeight="1">')
            else:
                out.append(f'<row r="{r}">')
            if plain:
                out.append(cells.format(r, *values))
            else:
                out.append(one_cell(r, values))
            out.append("</row>")
        self._sheet.write("".join(out).encode("utf-8"))

    def _cell(self, r: int, values: Sequence[Any]) -> str:
        """A row's cells one by one: empty texts left out, edge spaces kept, text escaped."""
        out = [f'<c r="A{r}{self._number}{values[0]}.0</v></c>']
        for letter, value in zip(LETTERS[1:], values[1:], strict=True):
            if not value:
                continue  # as rust_xlsxwriter: an empty text is no cell
            if len(value) > CELL_LIMIT:  # refused, as rust_xlsxwriter refuses it
                raise ValueError(f"a text of {len(value)} characters: Excel takes {CELL_LIMIT}")
            edge = value[0] in _EDGE_SPACE or value[-1] in _EDGE_SPACE
            space = ' xml:space="preserve"' if edge else ""
            out.append(f'<c r="{letter}{r}{self._text}{space}>{escape(value)}</t></is></c>')
        return "".join(out)

    def close(self) -> None:
        if self._sheet is None:
            raise ValueError("a sheet closed that is not open")
        if self._written != self._expected:
            self.abandon()
            raise ValueError(f"{self._written} rows written, {self._expected} announced")
        self._sheet.write(self._plan.after_rows.encode("utf-8"))
        self._sheet.close()
        self._sheet = None
        for name, data in self._plan.parts_after:
            self._package.writestr(name, data)
        self._package.close()

    def abandon(self) -> None:
        """Close the file, unfinished (the caller removes it or reports the error)."""
        if self._sheet is not None:
            self._sheet.close()
            self._sheet = None
        self._package.close()
