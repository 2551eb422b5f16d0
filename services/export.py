"""Export of approved requests in the order's request form (XLSX and CSV), export batches,
and the access-granted step."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.page import PageMargins
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AccessRequest, ExportBatch, utcnow
from db.repositories import EventRepository
from services.requests import Status, email_conflicts, transition

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
EXPORTED_STATUSES = (Status.APPROVED.value, Status.EXPORTED.value, Status.ACCESS_GRANTED.value)
LOCAL_TZ = ZoneInfo("Europe/Moscow")


@dataclass(frozen=True)
class Export:
    batch_id: int | None  # None for a re-export, which changes nothing
    requests: list[AccessRequest]


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def as_text(value: str) -> str:
    """A value typed by a person must not run as a formula when the file is opened
    (organisation names are typed by hand): a leading apostrophe keeps it text in a CSV."""
    return "'" + value if value.startswith(FORMULA_START) else value


def table_rows(requests: Sequence[AccessRequest]) -> list[list[str | int]]:
    return [
        [
            number,
            r.snils,
            r.full_name,
            r.email,
            r.region,
            r.org_full_name,
            r.org_short_name,
            r.component,
            r.role or "",
        ]
        for number, r in enumerate(requests, start=1)
    ]


def to_xlsx(requests: Sequence[AccessRequest], title: str = "Заявка ВИМИС ОНКО") -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top", horizontal="center")
    for number, values in enumerate(table_rows(requests), start=2):
        for column, value in enumerate(values, start=1):
            cell = sheet.cell(row=number, column=column)
            cell.value = value
            if isinstance(value, str):
                cell.data_type = "s"  # text, never a formula, whatever it starts with
                cell.number_format = "@"  # SNILS keeps its leading zeros
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


def to_csv(requests: Sequence[AccessRequest]) -> bytes:
    """UTF-8 with a BOM and `;`: what Excel in a Russian locale opens correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(
        [as_text(v) if isinstance(v, str) else v for v in row] for row in table_rows(requests)
    )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


async def export_new(session: AsyncSession, actor_id: int | None) -> Export:
    """Approved requests not exported before: a new batch, each marked exported (an event
    per request). A request whose status changed meanwhile is left out."""
    candidates = list(
        await session.scalars(
            select(AccessRequest)
            .where(
                AccessRequest.status == Status.APPROVED.value,
                AccessRequest.export_batch_id.is_(None),
                AccessRequest.erased_at.is_(None),
            )
            .order_by(AccessRequest.id)
        )
    )
    # One address, one person: a request whose address another person's request also holds
    # stays approved and out of the file until an admin resolves it.
    blocked = await email_conflicts(session, candidates)
    candidates = [r for r in candidates if r.id not in blocked]
    if not candidates:
        return Export(None, [])
    batch = ExportBatch(created_by=actor_id, created_at=utcnow(), size=0)
    session.add(batch)
    await session.flush()
    exported = []
    for request in candidates:
        if await transition(
            session,
            request.id,
            Status.APPROVED,
            Status.EXPORTED,
            actor_id=actor_id,
            action="exported",
            details={"batch": batch.id},
            extra={"export_batch_id": batch.id},
        ):
            exported.append(request)
    batch.size = len(exported)
    for request in exported:
        await session.refresh(request)
    return Export(batch.id, exported)


async def select_again(
    session: AsyncSession,
    *,
    batch_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[AccessRequest]:
    """Requests to export again, changing nothing: a batch, a date range of approval, or all
    approved ones."""
    # A request erased on consent withdrawal has nothing left to send.
    query = select(AccessRequest).where(
        AccessRequest.status.in_(EXPORTED_STATUSES), AccessRequest.erased_at.is_(None)
    )
    if batch_id is not None:
        query = query.where(AccessRequest.export_batch_id == batch_id)
    if since is not None:
        start = datetime.combine(since, time.min, LOCAL_TZ)
        query = query.where(AccessRequest.decided_at >= start)
    if until is not None:
        end = datetime.combine(until + timedelta(days=1), time.min, LOCAL_TZ)
        query = query.where(AccessRequest.decided_at < end)
    return list(await session.scalars(query.order_by(AccessRequest.id)))


def log_reexport(
    session: AsyncSession, requests: Sequence[AccessRequest], actor_id: int | None, how: str
) -> None:
    events = EventRepository(session)
    for request in requests:
        events.add(request.id, "reexported", actor_id=actor_id, details={"selection": how})


async def grant(
    session: AsyncSession, request_ids: Sequence[int], actor_id: int | None
) -> list[AccessRequest]:
    """Mark exported requests access_granted; returns the ones this call changed. A person who
    withdrew consent is neither marked nor notified."""
    granted = []
    for request_id in dict.fromkeys(request_ids):
        current = await session.get(AccessRequest, request_id)
        if current is None or current.erased_at is not None:
            continue
        if await transition(
            session,
            request_id,
            Status.EXPORTED,
            Status.ACCESS_GRANTED,
            actor_id=actor_id,
            action="access_granted",
        ):
            request = await session.get(AccessRequest, request_id)
            if request is not None:
                await session.refresh(request)
                granted.append(request)
    return granted


async def batch_members(session: AsyncSession, batch_id: int) -> list[int]:
    rows = await session.scalars(
        select(AccessRequest.id).where(AccessRequest.export_batch_id == batch_id)
    )
    return list(rows)
