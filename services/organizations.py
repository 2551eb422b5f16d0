"""The organisation directory: search for the dialog and import of FRMO exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Organization, utcnow
from db.repositories import OrganizationRepository
from services.text_search import query_words, search_key

PAGE_SIZE = 6
# FRMO (NSI 1.2.643.5.1.13.13.11.1461) export field names.
REQUIRED_COLUMNS = ("oid", "nameFull", "nameShort", "regionName")


# The region's health department (order item 3.1: chief specialists request access as its
# staff). It is not in ФРМО: one row per region, made by the bot, keyed by this OID.
DEPARTMENT_OID = "department:{region}"
DEPARTMENT_SHORT = "Департамент здравоохранения"


def _genitive(region: str) -> str:
    """«Костромская область» → «Костромской области»: the common forms of a region's name;
    any other is kept as written, after a dash."""
    words = region.split()
    if len(words) == 2 and words[1].lower() == "область" and words[0].endswith("ая"):
        return f"{words[0][:-2]}ой области"
    if len(words) == 2 and words[1].lower() == "край" and words[0].endswith("ий"):
        return f"{words[0][:-2]}ого края"
    if words[:1] == ["Республика"]:
        return " ".join(["Республики", *words[1:]])
    return ""


def department_name(region: str) -> str:
    genitive = _genitive(region)
    if genitive:
        return f"{DEPARTMENT_SHORT} {genitive}"
    return f"{DEPARTMENT_SHORT} — {region}"


async def ensure_department(session: AsyncSession, region: str) -> Organization:
    """The department's row, made on first need (REGION_NAME decides its name; a renamed
    region gets a row of its own). Never hidden by an import: ФРМО does not list it."""
    oid = DEPARTMENT_OID.format(region=region)[:128]
    org = await session.scalar(select(Organization).where(Organization.oid == oid))
    if org is not None:
        return org
    full = department_name(region)
    org = Organization(
        oid=oid,
        name_full=full,
        name_short=full,
        region=region,
        search_key=search_key(full),
        deleted=False,
        is_department=True,
        updated_at=utcnow(),
    )
    session.add(org)
    await session.flush()
    return org


async def department(session: AsyncSession, region: str) -> Organization | None:
    oid = DEPARTMENT_OID.format(region=region)[:128]
    return await session.scalar(select(Organization).where(Organization.oid == oid))


class ImportError_(Exception):
    """A file that is not an FRMO export. `reason` says why (one of the `BAD_*` below) and
    `columns` which required columns are missing; the message is for developers, the
    command line says it in Russian (bot/texts/console.py)."""

    def __init__(self, message: str, reason: str, columns: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.reason = reason
        self.columns = columns


BAD_COLUMNS = "columns"  # the header lacks required columns
BAD_XLSX = "xlsx"  # named .xlsx, but not a workbook that opens
BAD_TEXT = "text"  # neither UTF-8 nor Windows-1251, or not text at all
BAD_FORMAT = "format"  # a format not read (old .xls, .ods)
BAD_READ = "read"  # the file cannot be read (permissions, a device)


def _missing(missing: list[str]) -> ImportError_:
    return ImportError_(f"missing columns: {', '.join(missing)}", BAD_COLUMNS, tuple(missing))


@dataclass(frozen=True)
class OrgRow:
    oid: str
    name_full: str
    name_short: str
    region: str
    deleted: bool


@dataclass(frozen=True)
class ImportReport:
    added: int
    updated: int
    deleted: int
    skipped_other_region: int


@dataclass(frozen=True)
class SearchPage:
    items: list[Organization]
    total: int
    page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


async def search(session: AsyncSession, region: str, query: str, page: int = 0) -> SearchPage:
    words = query_words(query)
    if not words:
        return SearchPage([], 0, 0)
    items, total = await OrganizationRepository(session).search(
        region, words, limit=PAGE_SIZE, offset=page * PAGE_SIZE
    )
    return SearchPage(items, total, page)


def _clean(value: object) -> str:
    return " ".join(str(value or "").split())


def _rows_from_dicts(records: Iterable[dict[str, object]]) -> Iterator[OrgRow]:
    for record in records:
        row = {str(k).strip(): v for k, v in record.items() if k is not None}
        missing = [c for c in REQUIRED_COLUMNS if c not in row]
        if missing:
            raise _missing(missing)
        oid = _clean(row["oid"])
        if not oid:
            continue
        full = _clean(row["nameFull"])
        yield OrgRow(
            oid=oid,
            name_full=full,
            name_short=_clean(row["nameShort"]) or full,
            region=_clean(row["regionName"]),
            deleted=bool(_clean(row.get("deleteDate"))),
        )


def _check_header(header: Iterable[object]) -> None:
    # Checked on the header itself, so that a file with no data rows is refused too.
    names = {str(h).strip() for h in header if h is not None}
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise _missing(missing)


def _read_xlsx(path: Path) -> list[OrgRow]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            values = list(sheet.iter_rows(values_only=True))
        finally:
            book.close()
    except OSError as exc:
        raise ImportError_(f"cannot read: {exc}", BAD_READ) from exc
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ImportError_(f"not a workbook: {type(exc).__name__}", BAD_XLSX) from exc
    header = [str(h).strip() if h is not None else "" for h in (values[0] if values else ())]
    _check_header(header)
    return list(_rows_from_dicts(dict(zip(header, r, strict=False)) for r in values[1:]))


def read_rows(path: Path) -> list[OrgRow]:
    """Read an FRMO export: CSV (`,` or `;`, UTF-8 or Windows-1251) or XLSX (first sheet)."""
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        return _read_xlsx(path)
    if suffix in {".xls", ".ods", ".xlsb"}:
        raise ImportError_(f"format {suffix} is not read", BAD_FORMAT)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportError_(f"cannot read: {exc}", BAD_READ) from exc
    if b"\x00" in raw:
        raise ImportError_("a NUL byte: not a text file", BAD_TEXT)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1251")
        except UnicodeDecodeError as exc:
            raise ImportError_("neither UTF-8 nor Windows-1251", BAD_TEXT) from exc
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    try:
        reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
        _check_header(reader.fieldnames or ())
        return list(_rows_from_dicts(reader))
    except csv.Error as exc:
        raise ImportError_(f"not a CSV file: {exc}", BAD_TEXT) from exc


async def import_rows(session: AsyncSession, rows: list[OrgRow], region: str) -> ImportReport:
    """Idempotent: organisations are keyed by OID; a deleteDate hides an existing entry."""
    repo = OrganizationRepository(session)
    mine = [r for r in rows if r.region == region]
    added = updated = deleted = 0
    existing: dict[str, Organization] = {}
    oids = [r.oid for r in mine]
    for start in range(0, len(oids), 500):
        existing |= await repo.by_oids(oids[start : start + 500])
    now = utcnow()
    for row in mine:
        org = existing.get(row.oid)
        if row.deleted:
            if org is not None and not org.deleted:
                org.deleted, org.updated_at = True, now
                deleted += 1
            continue
        fields = {
            "name_full": row.name_full,
            "name_short": row.name_short,
            "region": row.region,
            "search_key": search_key(f"{row.name_short} {row.name_full}"),
            "deleted": False,
        }
        if org is None:
            org = Organization(oid=row.oid, updated_at=now, **fields)
            repo.add(org)
            existing[row.oid] = org
            added += 1
        elif any(getattr(org, k) != v for k, v in fields.items()):
            for key, value in fields.items():
                setattr(org, key, value)
            org.updated_at = now
            updated += 1
    # The department is offered beside the directory (item 3.1): found by its words too.
    await ensure_department(session, region)
    return ImportReport(added, updated, deleted, len(rows) - len(mine))
