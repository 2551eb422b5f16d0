"""A list of ids as one bound parameter (db/id_lists.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import insert, select

from db.database import Database
from db.id_lists import in_ids
from db.models import Organization


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
