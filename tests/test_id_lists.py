"""A list of ids as one bound parameter (db/id_lists.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import insert, select

from db.database import Database
from db.id_lists import holds, in_ids, pack_ids, unpack_ids
from db.models import ExportAudit, Organization
from services.audit import record_export


async def test_ids_select_exactly_those_rows_even_past_sqlites_variable_limit(
    db: Database,
) -> None:
    async with db.write() as session:
        await session.execute(
            insert(Organization),
            [
                {
                    "oid": f"1.2.643.5.1.13.{n}",
                    "name_full": f"Организация {n}",
                    "name_short": f"О{n}",
                    "region": "Область",
                    "search_key": f"организация {n}",
                }
                for n in range(1, 6)
            ],
        )
    table = Organization.__table__.c
    async with db.read() as session:
        dialect = session.get_bind().dialect.name
        query = select(table.id).where(in_ids(table.id, dialect)).order_by(table.id)
        every = list(await session.scalars(select(table.id).order_by(table.id)))
        assert list(await session.scalars(query, {"ids": []})) == []
        assert list(await session.scalars(query, {"ids": every[1::2]})) == every[1::2]
        # 40,000 ids: more than SQLite allows bound variables (32,766), one parameter here.
        many = [*every[:2], *range(10**9, 10**9 + 40_000)]
        assert list(await session.scalars(query, {"ids": many})) == every[:2]


# --- an export's ids in one column ----------------------------------------------------------


@given(st.lists(st.integers(min_value=0, max_value=2**31 - 1), max_size=300))
def test_packed_ids_come_back_sorted_and_once(ids: list[int]) -> None:
    packed = pack_ids(ids)
    assert unpack_ids(packed) == sorted(set(ids))
    # Dense ids (the usual export) are one byte each after the first.
    assert len(pack_ids(range(100_000, 100_500))) == 3 + 499


def test_holds_finds_only_what_is_there() -> None:
    ids = [3, 7, 8, 200]
    assert [n for n in range(0, 202) if holds(ids, n)] == ids
    assert not holds([], 1)


async def test_an_id_array_column_round_trips_on_both_databases(db: Database) -> None:
    ids = [*range(1, 2000), 5000, 10**6, 2**31 - 1]
    async with db.write() as session:
        await record_export(
            session,
            list(reversed(ids)),
            actor_id=1,
            cli=False,
            selection="all",
            batch_id=None,
            files=None,
        )
    async with db.read() as session:
        row = (await session.scalars(select(ExportAudit))).one()
    assert row.request_ids == ids and (row.first_id, row.last_id, row.count) == (1, 2**31 - 1, 2002)
