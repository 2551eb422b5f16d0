"""The organisation directory on a real database: FRMO import and search."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from bot.config import Settings
from db.database import Database
from db.models import Organization
from db.repositories import OrganizationRepository
from services.organizations import (
    PAGE_SIZE,
    ImportError_,
    ImportReport,
    OrgRow,
    SearchPage,
    import_rows,
    read_rows,
    search,
)
from services.text_search import query_words, search_key

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "organizations.sample.csv"
KOSTROMA = "Костромская область"
IVANOVO = "Ивановская область"
HEADER = ["oid", "nameFull", "nameShort", "regionName", "inn", "ogrn", "parentId", "deleteDate"]
OID = "1.2.643.5.1.13.13.12.0.44."
ACTIVE_OIDS = {f"{OID}{n}" for n in range(1, 12)}
CLOSED_OID = f"{OID}12"
OTHER_REGION_OID = "1.2.643.5.1.13.13.12.0.37.1"


async def all_orgs(db: Database) -> dict[str, Organization]:
    """The directory's medical organisations (the region's health department, which every
    import also keeps since order item 3.1, is not one of them)."""
    async with db.read() as session:
        rows = await session.scalars(select(Organization).where(~Organization.is_department))
        return {row.oid: row for row in rows}


async def do_import(db: Database, rows: list[OrgRow], region: str = KOSTROMA) -> ImportReport:
    async with db.write() as session:
        return await import_rows(session, rows, region)


async def find(db: Database, query: str, page: int = 0, region: str = KOSTROMA) -> SearchPage:
    async with db.read() as session:
        return await search(session, region, query, page)


def short_names(page: SearchPage) -> set[str]:
    return {org.name_short for org in page.items}


def row(
    oid: str, full: str, short: str = "", region: str = KOSTROMA, deleted: bool = False
) -> OrgRow:
    return OrgRow(oid=oid, name_full=full, name_short=short or full, region=region, deleted=deleted)


def write_csv(path: Path, records: list[list[str]], delimiter: str, encoding: str) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(records)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


SMALL = [
    HEADER,
    [f"{OID}901", "Больница, филиал «Север»", "Больница «Север»", KOSTROMA, "", "", "", ""],
    [f"{OID}902", "Поликлиника «Юг»", "", KOSTROMA, "", "", "", ""],
    [f"{OID}903", "Закрытая больница", "Закрытая", KOSTROMA, "", "", "", "2021-05-01"],
    [f"{OID}904", "Чужая больница", "Чужая", IVANOVO, "", "", "", ""],
    ["", "Строка без OID", "Без OID", KOSTROMA, "", "", "", ""],
]


def check_small(rows: list[OrgRow]) -> None:
    by_oid = {r.oid: r for r in rows}
    assert set(by_oid) == {f"{OID}90{n}" for n in range(1, 5)}  # the row without an OID skipped
    north = by_oid[f"{OID}901"]
    assert north.name_full == "Больница, филиал «Север»"
    assert north.name_short == "Больница «Север»"
    assert north.region == KOSTROMA
    assert north.deleted is False
    assert by_oid[f"{OID}902"].name_short == "Поликлиника «Юг»"  # no short name: the full one
    assert by_oid[f"{OID}903"].deleted is True
    assert by_oid[f"{OID}904"].region == IVANOVO


# --- reading files -------------------------------------------------------------------------


def test_read_sample() -> None:
    rows = read_rows(SAMPLE)
    assert len(rows) == 13
    by_oid = {r.oid: r for r in rows}
    assert by_oid[f"{OID}1"].name_short == "ОБРАЗЕЦ ОГБУЗ «Условный онкодиспансер №1»"
    assert by_oid[f"{OID}1"].name_full.startswith("ОБРАЗЕЦ (не реальные данные) Областное")
    assert [r.oid for r in rows if r.deleted] == [CLOSED_OID]
    assert by_oid[OTHER_REGION_OID].region == IVANOVO


@pytest.mark.parametrize(
    ("delimiter", "encoding"),
    [(";", "utf-8"), (",", "utf-8"), (",", "utf-8-sig"), (";", "cp1251"), (",", "cp1251")],
)
def test_read_csv_variants(tmp_path: Path, delimiter: str, encoding: str) -> None:
    path = write_csv(tmp_path / "frmo.csv", SMALL, delimiter, encoding)
    check_small(read_rows(path))


def test_read_xlsx(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    for record in SMALL:
        sheet.append([value or None for value in record])
    sheet.cell(row=4, column=8).value = datetime(2021, 5, 1)  # a real date cell
    sheet.append([None] * len(HEADER))  # an empty trailing row
    path = tmp_path / "frmo.xlsx"
    book.save(path)
    check_small(read_rows(path))


def test_read_xlsx_with_columns_in_another_order(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["regionName", "nameShort", "oid", "nameFull", "extra"])
    sheet.append([KOSTROMA, "Краткое", f"{OID}950", "Полное наименование", 42])
    path = tmp_path / "frmo.xlsx"
    book.save(path)
    assert read_rows(path) == [row(f"{OID}950", "Полное наименование", "Краткое")]


def test_read_collapses_whitespace(tmp_path: Path) -> None:
    records = [HEADER, [f" {OID}960 ", "  Полное \n  имя ", " Краткое  имя ", f" {KOSTROMA} "]]
    path = write_csv(tmp_path / "frmo.csv", records, ";", "utf-8")
    assert read_rows(path) == [row(f"{OID}960", "Полное имя", "Краткое имя")]


@pytest.mark.parametrize("missing", ["oid", "nameFull", "nameShort", "regionName"])
def test_missing_required_column_csv(tmp_path: Path, missing: str) -> None:
    index = HEADER.index(missing)
    records = [[v for i, v in enumerate(r) if i != index] for r in SMALL]
    path = write_csv(tmp_path / "frmo.csv", records, ";", "utf-8")
    with pytest.raises(ImportError_, match=missing):
        read_rows(path)


def test_missing_required_column_xlsx(tmp_path: Path) -> None:
    book = Workbook()
    book.active.append(["oid", "name", "region"])
    book.active.append([f"{OID}970", "Больница", KOSTROMA])
    path = tmp_path / "frmo.xlsx"
    book.save(path)
    with pytest.raises(ImportError_, match="nameFull"):
        read_rows(path)


def test_header_only_with_wrong_columns_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "frmo.csv", [["id", "name", "region"]], ";", "utf-8")
    with pytest.raises(ImportError_, match="nameFull"):
        read_rows(path)


def test_empty_files_are_refused(tmp_path: Path) -> None:
    empty_csv = tmp_path / "empty.csv"
    empty_csv.write_bytes(b"")
    with pytest.raises(ImportError_, match="oid"):
        read_rows(empty_csv)
    empty_xlsx = tmp_path / "empty.xlsx"
    Workbook().save(empty_xlsx)
    with pytest.raises(ImportError_, match="oid"):
        read_rows(empty_xlsx)


def test_header_only_xlsx_with_wrong_columns_is_refused(tmp_path: Path) -> None:
    book = Workbook()
    book.active.append(["oid", "nameFull", "nameShort", "region"])
    path = tmp_path / "frmo.xlsx"
    book.save(path)
    with pytest.raises(ImportError_, match="regionName"):
        read_rows(path)


def test_header_only_with_right_columns_is_empty(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "frmo.csv", [HEADER], ";", "utf-8")
    assert read_rows(path) == []


def test_not_an_frmo_export_at_all(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("Список больниц\nБольница 1\nБольница 2\n", encoding="utf-8")
    with pytest.raises(ImportError_, match="missing columns"):
        read_rows(path)


# --- importing -----------------------------------------------------------------------------


async def test_sample_import_adds_only_active_rows_of_the_region(
    db: Database, settings: Settings
) -> None:
    assert settings.region_name == KOSTROMA
    report = await do_import(db, read_rows(SAMPLE), settings.region_name)
    assert report == ImportReport(added=11, updated=0, deleted=0, skipped_other_region=1)
    orgs = await all_orgs(db)
    assert set(orgs) == ACTIVE_OIDS
    assert CLOSED_OID not in orgs and OTHER_REGION_OID not in orgs
    assert all(o.region == KOSTROMA and o.deleted is False for o in orgs.values())
    first = orgs[f"{OID}1"]
    assert first.name_short == "ОБРАЗЕЦ ОГБУЗ «Условный онкодиспансер №1»"
    assert first.search_key == search_key(f"{first.name_short} {first.name_full}")


async def test_organizations_fixture(db: Database, organizations: None) -> None:
    assert set(await all_orgs(db)) == ACTIVE_OIDS


async def test_import_twice_is_idempotent(db: Database) -> None:
    rows = read_rows(SAMPLE)
    await do_import(db, rows)
    before = await all_orgs(db)
    report = await do_import(db, rows)
    assert report == ImportReport(added=0, updated=0, deleted=0, skipped_other_region=1)
    after = await all_orgs(db)
    assert {oid: o.id for oid, o in after.items()} == {oid: o.id for oid, o in before.items()}
    assert {oid: o.updated_at for oid, o in after.items()} == {
        oid: o.updated_at for oid, o in before.items()
    }


async def test_changed_name_updates_in_place(db: Database, organizations: None) -> None:
    before = await all_orgs(db)
    rows = [
        dataclasses.replace(r, name_short="ОБРАЗЕЦ ОГБУЗ «Переименованная больница №4»")
        if r.oid == f"{OID}4"
        else r
        for r in read_rows(SAMPLE)
    ]
    report = await do_import(db, rows)
    assert report == ImportReport(added=0, updated=1, deleted=0, skipped_other_region=1)
    after = await all_orgs(db)
    renamed = after[f"{OID}4"]
    assert renamed.id == before[f"{OID}4"].id
    assert renamed.name_short == "ОБРАЗЕЦ ОГБУЗ «Переименованная больница №4»"
    assert renamed.search_key == search_key(f"{renamed.name_short} {renamed.name_full}")
    assert (await find(db, "переименованная")).total == 1
    assert (await find(db, "№4 переименованная")).items[0].oid == f"{OID}4"
    # the old short name is no longer searchable
    assert (await find(db, "горбольница")).total == 0
    assert len(after) == 11


async def test_later_delete_date_hides_the_organization(db: Database, organizations: None) -> None:
    rows = read_rows(SAMPLE)
    crb_b = f"{OID}3"
    before = await all_orgs(db)
    both = {"ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»", "ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ Б»"}
    assert short_names(await find(db, "ЦРБ")) == both

    closed = [dataclasses.replace(r, deleted=True) if r.oid == crb_b else r for r in rows]
    report = await do_import(db, closed)
    assert report == ImportReport(added=0, updated=0, deleted=1, skipped_other_region=1)
    assert short_names(await find(db, "ЦРБ")) == {"ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»"}
    assert short_names(await find(db, "условная црб")) == {"ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»"}
    assert (await find(db, "образец")).total == 10
    orgs = await all_orgs(db)
    assert orgs[crb_b].deleted is True  # kept for requests that refer to it, just hidden

    again = await do_import(db, closed)
    assert again == ImportReport(added=0, updated=0, deleted=0, skipped_other_region=1)

    # reopened: back with its old id
    reopened = await do_import(db, rows)
    assert reopened == ImportReport(added=0, updated=1, deleted=0, skipped_other_region=1)
    orgs = await all_orgs(db)
    assert orgs[crb_b].deleted is False
    assert orgs[crb_b].id == before[crb_b].id
    assert short_names(await find(db, "ЦРБ")) == both


async def test_import_from_comma_cp1251_csv(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "frmo.csv", SMALL, ",", "cp1251")
    report = await do_import(db, read_rows(path))
    assert report == ImportReport(added=2, updated=0, deleted=0, skipped_other_region=1)
    assert short_names(await find(db, "север филиал")) == {"Больница «Север»"}
    assert short_names(await find(db, "юг")) == {"Поликлиника «Юг»"}


async def test_import_from_xlsx(db: Database, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    with SAMPLE.open(encoding="utf-8") as file:
        for record in csv.reader(file, delimiter=";"):
            sheet.append(record)
    path = tmp_path / "frmo.xlsx"
    book.save(path)
    report = await do_import(db, read_rows(path))
    assert report == ImportReport(added=11, updated=0, deleted=0, skipped_other_region=1)
    assert set(await all_orgs(db)) == ACTIVE_OIDS
    # the same data from CSV afterwards changes nothing
    again = await do_import(db, read_rows(SAMPLE))
    assert (again.added, again.updated, again.deleted) == (0, 0, 0)


async def test_region_is_matched_exactly(db: Database) -> None:
    report = await do_import(db, [row(f"{OID}980", "Больница", region="Костромская обл.")])
    assert report == ImportReport(added=0, updated=0, deleted=0, skipped_other_region=1)
    assert await all_orgs(db) == {}


async def test_deleted_row_never_seen_before_is_not_added(db: Database) -> None:
    report = await do_import(db, [row(f"{OID}981", "Больница", deleted=True)])
    assert report == ImportReport(added=0, updated=0, deleted=0, skipped_other_region=0)
    assert await all_orgs(db) == {}


# --- search --------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["условная црб", "УСЛОВНАЯ ЦРБ", "уСЛОВНАЯ цРб", "Условная ЦРБ"])
async def test_search_is_case_insensitive(db: Database, organizations: None, query: str) -> None:
    page = await find(db, query)
    assert page.total == 2
    assert short_names(page) == {"ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»", "ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ Б»"}


async def test_search_yo_equals_ye(db: Database) -> None:
    await do_import(
        db,
        [
            row(f"{OID}990", "ОБРАЗЕЦ Объединённая больница"),
            row(f"{OID}991", "ОБРАЗЕЦ Зеленая поликлиника"),
            row(f"{OID}992", "ОБРАЗЕЦ ЁЛОЧКИНСКАЯ амбулатория"),
        ],
    )
    for query in ("объединенная", "объединённая", "ОБЪЕДИНЁННАЯ"):
        assert [o.oid for o in (await find(db, query)).items] == [f"{OID}990"]
    for query in ("зелёная", "зеленая"):
        assert [o.oid for o in (await find(db, query)).items] == [f"{OID}991"]
    for query in ("елочкинская", "ёлочкинская", "Ёлочкинская"):
        assert [o.oid for o in (await find(db, query)).items] == [f"{OID}992"]


async def test_search_all_words_must_match(db: Database, organizations: None) -> None:
    assert (await find(db, "онкодиспансер")).total == 1
    assert (await find(db, "закрытая")).total == 0  # the closed one is not imported
    assert (await find(db, "горбольница")).total == 1
    assert (await find(db, "онкодиспансер горбольница")).total == 0
    assert (await find(db, "условная горбольница")).total == 1
    assert (await find(db, "условная горбольница несуществующее")).total == 0


async def test_search_words_in_any_order(db: Database, organizations: None) -> None:
    forward = await find(db, "условная районная больница")
    backward = await find(db, "больница районная условная")
    assert forward.total == backward.total == 8  # 6 РБ and 2 ЦРБ
    assert [o.id for o in forward.items] == [o.id for o in backward.items]
    assert short_names(await find(db, "горбольница условная")) == {
        "ОБРАЗЕЦ ОГБУЗ «Условная горбольница»"
    }
    assert short_names(await find(db, "диспансер ОГБУЗ онкологический")) == {
        "ОБРАЗЕЦ ОГБУЗ «Условный онкодиспансер №1»"
    }


async def test_search_by_part_of_a_word_and_full_name(db: Database, organizations: None) -> None:
    assert short_names(await find(db, "онкол диспанс")) == {
        "ОБРАЗЕЦ ОГБУЗ «Условный онкодиспансер №1»"
    }
    page = await find(db, "информационно-аналитический")
    assert short_names(page) == {"ОБРАЗЕЦ ОГБУЗ «Условный МИАЦ»"}
    assert short_names(await find(db, "«МИАЦ»")) == {"ОБРАЗЕЦ ОГБУЗ «Условный МИАЦ»"}
    assert short_names(await find(db, "№1")) == {"ОБРАЗЕЦ ОГБУЗ «Условный онкодиспансер №1»"}


async def test_search_paging(db: Database, organizations: None) -> None:
    assert PAGE_SIZE == 6
    first = await find(db, "образец", page=0)
    second = await find(db, "образец", page=1)
    beyond = await find(db, "образец", page=2)
    assert first.total == second.total == beyond.total == 11
    assert first.pages == second.pages == 2
    assert (first.page, second.page) == (0, 1)
    assert len(first.items) == PAGE_SIZE
    assert len(second.items) == 11 - PAGE_SIZE
    assert beyond.items == []
    first_ids = {o.id for o in first.items}
    second_ids = {o.id for o in second.items}
    assert not first_ids & second_ids
    assert {o.oid for o in first.items + second.items} == ACTIVE_OIDS
    # stable: the same page again gives the same items
    assert [o.id for o in (await find(db, "образец", page=0)).items] == [o.id for o in first.items]


async def test_search_page_count(db: Database, organizations: None) -> None:
    one = await find(db, "горбольница")
    assert (one.total, one.pages, len(one.items)) == (1, 1, 1)
    none = await find(db, "несуществующее")
    assert (none.total, none.pages, none.items) == (0, 1, [])


async def test_other_region_never_returned(db: Database, organizations: None) -> None:
    await do_import(db, read_rows(SAMPLE), IVANOVO)
    orgs = await all_orgs(db)
    assert orgs[OTHER_REGION_OID].region == IVANOVO
    assert (await find(db, "другого региона")).total == 0
    assert (await find(db, "образец")).total == 11
    assert OTHER_REGION_OID not in {o.oid for o in (await find(db, "образец", page=1)).items}
    ivanovo = await find(db, "другого региона", region=IVANOVO)
    assert [o.oid for o in ivanovo.items] == [OTHER_REGION_OID]


@pytest.mark.parametrize("query", ["", "   ", "«»", "...", "- , ; !?", "«—»", "%", "_", "%%_", "*"])
async def test_punctuation_only_finds_nothing(
    db: Database, organizations: None, query: str
) -> None:
    page = await find(db, query)
    assert page.items == []
    assert page.total == 0


async def test_like_wildcards_are_literal(db: Database, organizations: None) -> None:
    async with db.write() as session:
        session.add(
            Organization(
                oid=f"{OID}999",
                name_full="Клиника 100% качества",
                name_short="Клиника",
                region=KOSTROMA,
                search_key="клиника 100% качества a_b",  # not producible by search_key(): raw
            )
        )
    async with db.read() as session:
        repo = OrganizationRepository(session)
        for words, expected in [
            (["%"], 1),
            (["100%"], 1),
            (["a_b"], 1),
            (["_"], 1),
            (["усл%вная"], 0),
            (["усл_вная"], 0),
            (["%условн"], 0),
            (["a%b"], 0),
            (["ab"], 0),
        ]:
            items, total = await repo.search(KOSTROMA, words, limit=50)
            assert total == expected, words
            assert len(items) == expected, words
    # through the service a lone wildcard is no word at all, so it matches nothing
    assert (await find(db, "%")).total == 0
    assert (await find(db, "_")).total == 0


# --- the normalisation behind it -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("ОГБУЗ «Условная ЦРБ»", "огбуз условная црб"),
        ("Ёлкинская  больница", "елкинская больница"),
        ("Онкодиспансер №1", "онкодиспансер no1"),
        (
            "Медицинский информационно-аналитический центр",
            "медицинский информационно аналитический центр",
        ),
        ("  ", ""),
        ("ＣＲＢ", "crb"),  # full-width Latin
    ],
)
def test_search_key(text: str, key: str) -> None:
    assert search_key(text) == key


def test_query_words() -> None:
    assert query_words("  ЦРБ, «Условная»!  ") == ["црб", "условная"]
    assert query_words("«»%_") == []
    assert query_words("а б в г д е ж з") == ["а", "б", "в", "г", "д", "е"]
