"""The order's request form as an XLSX sheet, written by rustpy-xlsxwriter (bindings to Rust's
rust_xlsxwriter): text cells, a wrapped bold header, A4 landscape fit to one page wide, a frozen
header repeated on every printed page, and each row as tall as its tallest wrapped cell.

For a large export the sheet is written in a process of its own (`XlsxProcess`): laying out
100,000 rows and writing them is seconds of CPU, which in the bot's process would take the
interpreter away from the event loop. Told how many rows will come, that process streams them
into the file as they arrive (stream.py); a small sheet is written by `Sheet` once all its
rows are in. This module imports nothing heavy, so the process starts in a tenth of a second.
"""

from __future__ import annotations

import contextlib
import fcntl
import pickle
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO

import rustpy_xlsxwriter as xlsx

from services.child_process import module_command, module_env
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
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux
PIPE_SIZE = 1 << 20  # Linux's default limit for an unprivileged pipe
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


class Sheet:
    """Collects the form's rows (sequences of nine values), laying each out as it comes, and
    writes them with rust_xlsxwriter once all are in (its in-memory mode)."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.heights: dict[int, float] = {0: header_height()}
        self._layout = RowLayout()

    def add(self, rows: Iterable[Sequence[Any]]) -> None:
        heights, append, lay_out = self.heights, self.rows.append, self._layout.lay_out
        first = REPEATING[0]
        number = len(self.rows)
        for values in rows:
            lines, tail = lay_out(values)
            number += 1
            if lines > 1:
                heights[number] = row_height(lines)
            append((*values[:first], *tail))

    def write(self, path: str) -> None:
        if not self.rows:
            return
        # Shared strings, in memory: in rustpy-xlsxwriter 0.8's constant-memory mode a height
        # on the last row is written twice (two <row> of one number, which Excel reports as a
        # damaged file). Repeated organisation names also make the file smaller.
        write_sheet(self._records(), path, self.heights, in_memory=True)

    def _records(self) -> Iterator[dict[str, Any]]:
        # A generator, not a list: the writer calls back into Python for every row, so the
        # interpreter can switch threads in between.
        for values in self.rows:
            yield dict(zip(COLUMNS, values, strict=True))


class XlsxError(RuntimeError):
    pass


class XlsxProcess:
    """Writes the sheet in a process of its own (`python -m services.export.xlsx PATH [ROWS]`):
    `send` rows in chunks, then `finish`. Rows go through the process's standard input,
    pickled. Told how many rows will come, the process streams them into the file as they
    arrive (stream.py); otherwise it writes them all at the end (`Sheet`). A plain
    subprocess, not multiprocessing: that would import the parent's main module again in the
    child."""

    def __init__(self, path: str, rows: int | None = None) -> None:
        count = () if rows is None else (str(rows),)
        self._process = subprocess.Popen(
            module_command("services.export.xlsx", path, *count),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=module_env(),
        )
        with contextlib.suppress(OSError):  # room for a few chunks: the reader need not wait
            fcntl.fcntl(self._process.stdin.fileno(), F_SETPIPE_SZ, PIPE_SIZE)  # type: ignore[union-attr]

    def send(self, rows: Sequence[Sequence[Any]]) -> None:
        assert self._process.stdin is not None
        try:
            pickle.dump(rows, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        except BrokenPipeError as exc:  # the process ended early: `finish` says why
            self.finish()
            raise XlsxError("the XLSX process ended early") from exc

    def finish(self) -> None:
        process = self._process
        assert process.stdin is not None and process.stderr is not None
        with contextlib.suppress(BrokenPipeError):
            pickle.dump(None, process.stdin)
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
        err = process.stderr.read()
        process.stderr.close()
        if process.wait() != 0:
            raise XlsxError(err.decode(errors="replace").strip()[-500:] or "no message")

    def abandon(self) -> None:
        self._process.kill()
        self._process.wait()
        for pipe in (self._process.stdin, self._process.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


def main(path: str, rows: str | None = None) -> int:
    """The process's work: rows arrive in chunks until None; they are streamed into the file
    (their number given) or written once all are in."""
    source = sys.stdin.buffer
    if rows is not None:
        # Imported here: form_stream builds on this module.
        from services.export.stream import SheetStream

        stream = SheetStream(path, int(rows))
        try:
            while (chunk := pickle.load(source)) is not None:
                stream.add(chunk)
        except BaseException:
            stream.abandon()
            raise
        stream.close()
        return 0
    sheet = Sheet()
    while (chunk := pickle.load(source)) is not None:
        sheet.add(chunk)
    sheet.write(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
