"""An organisation's request in the order's form (order No 922, item 2.3): its requests in
the nine columns of the export's sheet (services/export/columns.py, the same look), then a line
for the head's signature. For a responsible person: SNILS and e-mail are hidden (only МИАЦ
admins see them in full); the full data is in the requests already."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Sequence
from typing import Any

from db.models import AccessRequest
from services.export.columns import COLUMNS
from services.export.xlsx import Sheet
from services.snils import mask_snils


def form_rows(requests: Sequence[AccessRequest], hidden: str, role_pending: str) -> list[list[Any]]:
    """`role_pending`: what the role column says for a position typed outside the role matrix
    whose role МИАЦ has not chosen yet."""
    return [
        [
            str(number),
            mask_snils(r.snils),
            r.full_name,
            hidden,
            r.region,
            r.org_full_name,
            r.org_short_name or r.org_full_name,
            r.component,
            r.role or role_pending,
        ]
        for number, r in enumerate(requests, start=1)
    ]


def signature_rows(signature: Sequence[str]) -> list[list[Any]]:
    """An empty row, then «Руководитель ___ (подпись) ___ (ФИО) дата» across the columns
    wide enough to write in (name, e-mail, organisation)."""
    blank = [""] * len(COLUMNS)
    line = [""] * len(COLUMNS)
    for column, value in zip((2, 3, 5, 6), signature, strict=True):
        line[column] = value
    return [blank, line]


def _write(rows: list[list[Any]]) -> bytes:
    sheet = Sheet()
    sheet.add(rows)
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        sheet.write(path)
        with open(path, "rb") as file:
            return file.read()
    finally:
        os.unlink(path)


async def build(
    requests: Sequence[AccessRequest], hidden: str, role_pending: str, signature: Sequence[str]
) -> bytes:
    """The XLSX's bytes. An organisation has tens of requests, not thousands: a thread is
    enough to keep the loop free (the export's child process is for the big sheets)."""
    rows = form_rows(requests, hidden, role_pending) + signature_rows(signature)
    return await asyncio.to_thread(_write, rows)
