"""Export of approved requests in the order's request form (XLSX and CSV, for the federal
operator), export batches, and the access-granted step; the organisation's form (item 2.3).

    batches.py   which requests, the files built off the event loop, the batches they are
                 marked in, re-exports, their audit rows, access granted
    files.py     the form's two files from its rows; the build straight from the database
    xlsx.py      the sheet written in memory, or in a process of its own
    stream.py    the sheet streamed row by row (a large export)
    columns.py   the sheet itself: the order's columns, their widths, the page, row layout
    layout.py    how tall a row must be for its wrapped text
    org_form.py  an organisation's requests in the same sheet, for its head to sign
    child.py     the entry point of the child processes (`python -m services.export.child`)

Callers use `from services import export` and `export.run_new(...)` etc. The names are looked
up when asked for (`__getattr__`), not imported here: a child process runs child.py, and Python
runs this file first; importing the database layer (batches.py) here would add ≈ 1.5 s to the
start of each child.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.export.batches import (
        PAUSE_BESIDE_BOT,
        Export,
        again_query,
        batch_exists,
        batch_members,
        build,
        form_query,
        grant,
        new_query,
        run_again,
        run_new,
        select_again,
    )
    from services.export.columns import COLUMNS
    from services.export.files import ExportFiles, as_text, write_files

__all__ = [
    "COLUMNS",
    "PAUSE_BESIDE_BOT",
    "Export",
    "ExportFiles",
    "again_query",
    "as_text",
    "batch_exists",
    "batch_members",
    "build",
    "form_query",
    "grant",
    "new_query",
    "run_again",
    "run_new",
    "select_again",
    "write_files",
]
# The module of each name not in batches.py.
_HOMES = {"COLUMNS": "columns", "ExportFiles": "files", "as_text": "files", "write_files": "files"}


def __getattr__(name: str) -> Any:
    """The name from its module, read there each time it is asked for."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES.get(name, 'batches')}"), name)
