"""The form's two files (XLSX and CSV) from its rows, and their build straight from the
database for a large export, which a child process runs (child.py).

`write_form` writes both files in one pass: the CSV a chunk at a time, the XLSX in a process of
its own (xlsx.py). For an export of more than a few rows the whole build runs in a child
process (`python -m services.export.child build`, started by batches.py; its work is
`build_from_database`): it counts and reads the rows itself in one snapshot (sqlite3 on the
database file, asyncpg on PostgreSQL) and writes the CSV while its own XLSX process streams
each chunk into the sheet (stream.py). The bot's process only waits: no worker thread of its
takes the interpreter from the event loop, whatever the number of rows. This module imports
nothing heavy, so the process starts in a tenth of a second.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import re
import sqlite3
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any

from services.export.columns import COLUMNS
from services.export.xlsx import Sheet, XlsxProcess

# Rows read, written to the CSV and sent to the XLSX process at a time (an export of fewer is
# written in this process).
CHUNK = 1000
# The child reads SQLite beside the bot: it may wait for the rare reader locks.
READER_BUSY_TIMEOUT_MS = 5000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMULA_FIRST = frozenset("".join(FORMULA_START))


@dataclass
class ExportFiles:
    """The form as XLSX and CSV on disk, and the requests in it, in order."""

    xlsx: Path
    csv: Path
    request_ids: list[int] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.request_ids)


def as_text(value: str) -> str:
    """A value typed by a person must not run as a formula when the file is opened
    (organisation names are typed by hand): a leading apostrophe keeps it text in a CSV."""
    return "'" + value if value.startswith(FORMULA_START) else value


def form_row(number: int, row: Sequence[Any]) -> list[Any]:
    """A row of the form from (request id, the eight columns): № from 1, no role → empty."""
    return [number, *row[1:8], row[8] or ""]


def _csv_rows(chunk: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """The chunk's rows for the CSV: typed text that would run as a formula made text."""
    rows = []
    first = FORMULA_FIRST
    for values in chunk:
        if any(v and v[0] in first for v in values[1:]):  # after №, all text
            values = [as_text(v) if isinstance(v, str) else v for v in values]
        rows.append(list(values))
    return rows


def _taken(text: io.StringIO) -> str:
    """What the csv writer has written into `text` so far; `text` is left empty."""
    value = text.getvalue()
    text.seek(0)
    text.truncate()
    return value


def csv_lines(cells: Sequence[Sequence[Any]], writer: Any, text: io.StringIO) -> str:
    """The rows (№, then text) as `writer` (csv's, ';', minimal quoting, CRLF, writing into
    `text`) would write them. A row with nothing to quote (no quote, separator or line break
    in its text) is joined directly, three times faster than the writer; any other row goes
    through the writer."""
    end = writer.dialect.lineterminator
    lines = []
    for row in cells:
        try:
            line = ";".join(row[1:])
        except TypeError:  # not all text: the writer knows what to do
            line = '"'
        if '"' in line or "\n" in line or "\r" in line or line.count(";") != len(row) - 2:
            writer.writerow(row)
            line = _taken(text)[: -len(end)]
        else:
            line = f"{row[0]};{line}"
        lines.append(line)
    return end.join(lines) + end if lines else ""


# A row as the database gives it (build): the eight text cells of the form, then the request
# id. (The number is added here: a window function would make SQLite read the whole result
# before the first row, and the files could not be written while it reads.)
_TEXT = len(COLUMNS) - 1
_ID = itemgetter(_TEXT)
# A field of the CSV that starts like a formula: the first field is always the number, so such
# a field follows a separator (and, when quoted, a quote). A chunk with none of these is
# written as it is; one with a match (rare) goes through `_csv_rows`.
_FORMULA_FIELD = re.compile(r';"?[=+\-@\t\r]')


def write_files(
    rows: Iterable[Sequence[Any]], directory: Path, stem: str, *, process_after: int = CHUNK
) -> ExportFiles:
    """Both files from (request id, eight columns) rows (see `write_form`)."""
    source = iter(rows)

    def chunks() -> Iterator[list[tuple[Any, ...]]]:
        while part := list(islice(source, CHUNK)):
            yield [(*row[1:8], row[8] or "", row[0]) for row in part]

    return write_form(chunks(), directory, stem, process_after=process_after)


def write_form(
    chunks: Iterable[list[tuple[Any, ...]]],
    directory: Path,
    stem: str,
    *,
    process_after: int = CHUNK,
    csv_path: Path | None = None,
    rows: int | None = None,
) -> ExportFiles:
    """Both files from chunks of rows (the eight text cells, request id), in one pass: the
    CSV here, a chunk at a time, the XLSX in a process of its own once there are more than
    `process_after` rows (xlsx.py). Given the number of `rows` to come, that process
    writes each chunk into the file as it arrives."""
    files = ExportFiles(directory / f"{stem}.xlsx", csv_path or directory / f"{stem}.csv")
    process: XlsxProcess | None = None
    held: list[tuple[Any, ...]] = []  # rows not yet sent (until the process is worth starting)
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    try:
        with files.csv.open("wb") as out:
            out.write(codecs.BOM_UTF8)
            writer.writerow(COLUMNS)
            out.write(_taken(text).encode("utf-8"))
            number = 0
            for chunk in chunks:
                files.request_ids.extend(map(_ID, chunk))
                cells = [(n, *row[:_TEXT]) for n, row in enumerate(chunk, number + 1)]
                number += len(cells)
                lines = csv_lines(cells, writer, text)
                if _FORMULA_FIELD.search(lines):
                    writer.writerows(_csv_rows(cells))
                    lines = _taken(text)
                out.write(lines.encode("utf-8"))
                held += cells
                if process is None and len(held) < process_after:
                    continue
                process = process or XlsxProcess(str(files.xlsx), rows)
                process.send(held)
                held = []
        if process is None:
            sheet = Sheet()
            sheet.add(held)
            sheet.write(str(files.xlsx))
        else:
            if held:
                process.send(held)
            process.finish()
            process = None
    finally:
        if process is not None:  # building failed here: stop the process too
            process.abandon()
    return files


# --- the build in a child process ---------------------------------------------------------------


@dataclass
class BuildSpec:
    """What the child builds: the form query (compiled, its parameters processed), where it
    reads (a SQLite file or a PostgreSQL DSN), and where it writes."""

    dialect: str
    database: str
    sql: str
    params: list[Any]
    xlsx: str
    csv: str
    ids: str
    chunk: int = CHUNK


def _count_sql(spec: BuildSpec) -> str:
    return f"SELECT count(*) FROM ({spec.sql}) AS form_rows"


def _sqlite_rows(spec: BuildSpec) -> tuple[int, Iterator[list[tuple[Any, ...]]]]:
    """How many rows, and the rows a chunk at a time, from one snapshot (one read
    transaction): the count is the sheet's size before its first row."""
    connection = sqlite3.connect(spec.database, isolation_level=None)
    try:
        connection.execute("PRAGMA query_only=ON")
        connection.execute(f"PRAGMA busy_timeout={READER_BUSY_TIMEOUT_MS}")
        connection.execute("BEGIN")
        (count,) = connection.execute(_count_sql(spec), spec.params).fetchone()
    except BaseException:
        connection.close()
        raise

    def chunks() -> Iterator[list[tuple[Any, ...]]]:
        try:
            cursor = connection.execute(spec.sql, spec.params)
            while part := cursor.fetchmany(spec.chunk):
                yield part
        finally:
            connection.close()

    return int(count), chunks()


def _postgres_rows(spec: BuildSpec) -> tuple[int, Iterator[list[tuple[Any, ...]]]]:
    """The same from PostgreSQL: a read-only repeatable-read transaction (one snapshot),
    asyncpg's server-side cursor a chunk at a time (a loop of this process's own thread)."""
    import asyncpg

    loop = asyncio.new_event_loop()
    connection = loop.run_until_complete(asyncpg.connect(spec.database))

    def close() -> None:
        loop.run_until_complete(connection.close())
        loop.close()

    try:
        transaction = connection.transaction(readonly=True, isolation="repeatable_read")
        loop.run_until_complete(transaction.start())
        count = loop.run_until_complete(connection.fetchval(_count_sql(spec), *spec.params))
    except BaseException:
        close()
        raise

    def chunks() -> Iterator[list[tuple[Any, ...]]]:
        try:
            cursor = loop.run_until_complete(connection.cursor(spec.sql, *spec.params))
            while part := loop.run_until_complete(cursor.fetch(spec.chunk)):
                yield list(map(tuple, part))
        finally:
            close()

    return int(count), chunks()


def build_from_database(spec: BuildSpec) -> None:
    """The build child's work (child.py): both files, and the ids of the requests in them,
    from the rows the spec's query gives."""
    rows, chunks = (_sqlite_rows if spec.dialect == "sqlite" else _postgres_rows)(spec)
    xlsx, csv_path = Path(spec.xlsx), Path(spec.csv)
    files = write_form(chunks, xlsx.parent, xlsx.stem, csv_path=csv_path, rows=rows)
    with open(spec.ids, "wb") as out:
        array("q", files.request_ids).tofile(out)


def read_ids(path: Path) -> list[int]:
    """The request ids the child wrote (the file is removed)."""
    ids = array("q")
    ids.frombytes(path.read_bytes())
    path.unlink()
    return ids.tolist()
