"""The form's sheet written whole: `Sheet` collects the rows, laying each out as it comes, and
has rustpy-xlsxwriter write them in memory (shared strings). The sheet's columns, look and
row layout: columns.py.

For a large export the sheet is written in a process of its own (`XlsxProcess`): laying out
100,000 rows and writing them is seconds of CPU, which in the bot's process would take the
interpreter away from the event loop. Told how many rows will come, that process streams them
into the file as they arrive (stream.py); otherwise it writes them with `Sheet` once all are
in. This module imports nothing heavy, so the process starts in a tenth of a second.
"""

from __future__ import annotations

import contextlib
import fcntl
import pickle
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO

from services.child_process import module_command, module_env
from services.export.columns import COLUMNS, REPEATING, RowLayout, header_height, write_sheet
from services.export.layout import row_height
from services.export.stream import SheetStream

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux
PIPE_SIZE = 1 << 20  # Linux's default limit for an unprivileged pipe


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
    """Writes the sheet in a process of its own (`python -m services.export.child xlsx PATH
    [ROWS]`, which runs `write_received`): `send` rows in chunks, then `finish`. Rows go
    through the process's standard input, pickled. Told how many rows will come, the process
    streams them into the file as they arrive (stream.py); otherwise it writes them all at the
    end (`Sheet`). A plain subprocess, not multiprocessing: that would import the parent's main
    module again in the child."""

    def __init__(self, path: str, rows: int | None = None) -> None:
        count = () if rows is None else (str(rows),)
        self._process = subprocess.Popen(
            module_command("services.export.child", "xlsx", path, *count),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=module_env(),
        )
        with contextlib.suppress(OSError):  # room for a few chunks: the reader need not wait
            fcntl.fcntl(self._process.stdin.fileno(), F_SETPIPE_SZ, PIPE_SIZE)  # type: ignore[union-attr]

    def send(self, rows: Sequence[Sequence[Any]]) -> None:
        stdin = self._process.stdin
        if stdin is None:  # started without a pipe: nothing can reach it
            raise XlsxError("the XLSX process has no input")
        try:
            pickle.dump(rows, stdin, protocol=pickle.HIGHEST_PROTOCOL)
        except BrokenPipeError as exc:  # the process ended early: `finish` says why
            self.finish()
            raise XlsxError("the XLSX process ended early") from exc

    def finish(self) -> None:
        process = self._process
        if process.stdin is None or process.stderr is None:
            raise XlsxError("the XLSX process has no pipes")
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


def write_received(path: str, rows: int | None, source: BinaryIO) -> None:
    """The XLSX process's work (child.py): rows arrive from `source` in chunks until None, as
    `XlsxProcess` sends them; they are streamed into the file (their number given) or written
    once all are in."""
    if rows is not None:
        stream = SheetStream(path, rows)
        try:
            while (chunk := pickle.load(source)) is not None:
                stream.add(chunk)
        except BaseException:
            stream.abandon()
            raise
        stream.close()
        return
    sheet = Sheet()
    while (chunk := pickle.load(source)) is not None:
        sheet.add(chunk)
    sheet.write(path)
