"""The order's request form as a sheet (appendix to order No 922): its nine columns, their
widths, the header, the printed page, how tall each row must be (`RowLayout`), and
`write_sheet`, which writes it by rustpy-xlsxwriter (bindings to Rust's rust_xlsxwriter).

Both ways of writing the sheet build on this module: xlsx.py (in memory, or in a process of
its own) and stream.py (row by row, for a large export). It imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO

import rustpy_xlsxwriter as xlsx

from services.export.layout import cached_lines, row_height, wrapped_lines

# The order's request form, verbatim and in order (appendix to order No 922).
COLUMNS = (
    "№ п/п",
    "СНИЛС",
    "Фамилия Имя Отчество",
    "Адрес электронной почты (должен быть уникальным для каждого пользователя)",
    "Субъект РФ",
    "Полное наименование медицинской организации",
    "Краткое наименование медицинской организации",
    "Наименование компонента ВИМИС, к которому необходимо предоставить доступ",
    "Наименование роли, которую необходимо присвоить (согласно матрице ролей)",
)
# Widths (characters) chosen so the nine columns fit an A4 landscape page at fit-to-width.
WIDTHS = (6, 16, 28, 28, 16, 44, 26, 20, 24)
SHEET_TITLE = "Заявка ВИМИС ОНКО"
HEADER_HEIGHT = 75.0  # the header's height at least (five lines)
# Columns whose values repeat from row to row (region, organisation, component, role): kept
# once in memory, and laid out once per value.
REPEATING = (4, 5, 6, 7, 8)
PAGE_SETUP = {
    "landscape": True,
    "paper_size": 9,  # A4
    "fit_to_pages": (1, 0),  # one page wide, as many tall as needed
    "repeat_rows": 0,  # the header on every printed page
    "margins": {"left": 0.4, "right": 0.4, "top": 0.5, "bottom": 0.5},
}


def header_height() -> float:
    lines = max(wrapped_lines(c, w, bold=True) for c, w in zip(COLUMNS, WIDTHS, strict=True))
    return max(HEADER_HEIGHT, row_height(lines))


def line_count(values: Sequence[Any]) -> int:
    """Lines of the row's tallest wrapped cell."""
    most = max(wrapped_lines(values[column], WIDTHS[column]) for column in (1, 2, 3))
    for column in REPEATING:
        most = max(most, cached_lines(values[column], WIDTHS[column]))
    return most


def write_sheet(
    records: Iterable[dict[str, Any]] | list[dict[str, Any]],
    target: str | BinaryIO,
    heights: dict[int, float],
    *,
    in_memory: bool,
) -> None:
    """The form's sheet by rust_xlsxwriter: wrapped bold header, text cells, the widths, A4
    landscape one page wide, the header frozen and printed on every page."""
    header = xlsx.Format().set_bold().set_text_wrap().set_align("center").set_align("top")
    number = xlsx.Format().set_text_wrap().set_align("top")
    # Text: never a formula or a number, whatever it starts with; SNILS keeps its zeros.
    text = xlsx.Format().set_text_wrap().set_align("top").set_num_format("@")
    xlsx.write_worksheet(
        records,
        target,
        sheet_name=SHEET_TITLE,
        freeze_row=1,
        column_widths=list(WIDTHS),
        column_formats=[number] + [text] * (len(COLUMNS) - 1),
        header_format=header,
        row_heights=heights,
        page_setup=PAGE_SETUP,
        dedupe_strings=in_memory,  # off: rust_xlsxwriter's constant-memory mode
    )


class RowLayout:
    """Lines of each row of the form: the repeating columns (region … role) laid out once per
    combination, the person's three columns every time."""

    def __init__(self) -> None:
        # The repeating columns of a row, kept once with their lines.
        self._shared: dict[tuple[Any, ...], tuple[tuple[Any, ...], int]] = {}

    def lay_out(self, values: Sequence[Any]) -> tuple[int, tuple[Any, ...]]:
        """The row's lines, and its repeating columns as kept (one tuple per combination)."""
        first = REPEATING[0]
        tail = tuple(values[first:])
        known = self._shared.get(tail)
        if known is None:
            lines = max(map(wrapped_lines, tail, WIDTHS[first:]))
            known = self._shared[tail] = (tail, lines)
        snils, name, email = WIDTHS[1:first]
        lines = max(
            known[1],
            wrapped_lines(values[1], snils),
            wrapped_lines(values[2], name),
            wrapped_lines(values[3], email),
        )
        return lines, known[0]
