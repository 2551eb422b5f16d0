"""The Alembic migrations build exactly the schema the models describe, and the newest one
can be undone and applied again (a deployment rolled back and forward)."""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from db import search_index
from db.database import Database
from db.migrate import alembic_config
from db.models import Base
from services import consent, requests
from services.requests import Status
from tests.test_requests_service import NEW


def _differences(connection: Connection) -> list[Any]:
    with warnings.catch_warnings():
        # Neither backend reflects the expression index on lower(email); `_index_names`
        # checks that one.
        warnings.filterwarnings("ignore", message=".*expression-based index")
        # FTS5's tables and PostgreSQL's GIN index for /find live outside the models
        # (db/search_index.py): the migration makes them, the test below checks them.
        context = MigrationContext.configure(
            connection,
            opts={
                "include_name": lambda name, kind, _parent: (
                    not (
                        (kind == "table" and search_index.owns(name))
                        or (kind == "index" and name == search_index.PG_INDEX)
                    )
                )
            },
        )
        return list(compare_metadata(context, Base.metadata))


def _run(connection: Connection, action: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*expression-based index")
        getattr(command, action)(config, revision)


async def _index_names(db: Database) -> set[str]:
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        if db.is_sqlite
        else "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
    )
    async with db.read() as session:
        return set((await session.scalars(text(query))).all())


async def test_migrations_match_the_models(db: Database) -> None:
    async with db.write_engine.connect() as conn:
        assert await conn.run_sync(_differences) == []
    expected = {i.name for t in Base.metadata.tables.values() for i in t.indexes}
    assert expected <= await _index_names(db)
    assert await _search_index(db) == {"index"}


async def _search_index(db: Database) -> set[str]:
    """What of /find's word index exists (db/search_index.py): its index, and on SQLite the
    three triggers that keep it in step with the requests."""
    if db.is_sqlite:
        query = "SELECT type, name FROM sqlite_master WHERE name LIKE 'request_search%'"
        async with db.read() as session:
            found = {(kind, name) for kind, name in (await session.execute(text(query))).all()}
        triggers = {name for kind, name in found if kind == "trigger"}
        table = ("table", search_index.FTS_TABLE) in found
        return {"index"} if table and len(triggers) == 3 else {f"partial: {sorted(found)}"}
    return {"index"} if search_index.PG_INDEX in await _index_names(db) else set()


async def test_the_newest_migration_goes_down_and_up_again(db: Database) -> None:
    # With data the old schema had no room for: two people's erased exported requests of one
    # role (no SNILS left in either).
    for person, snils in ((7, "112-233-445 95"), (8, "431-052-771 35")):
        new = replace(NEW, account_id=person, snils=snils, email=f"{person}@example.ru")
        async with db.write() as session:
            result = await requests.submit(session, new)
            assert isinstance(result, requests.Submitted)
            for old, status in (
                (Status.SUBMITTED, Status.APPROVED),
                (Status.APPROVED, Status.EXPORTED),
            ):
                await requests.transition(
                    session, result.request.id, old, status, actor_id=1, action="x"
                )
            await consent.withdraw(session, person)
    before = await _index_names(db)
    async with db.write_engine.begin() as conn:
        await conn.run_sync(_run, "downgrade", "-1")
    async with db.write_engine.begin() as conn:
        await conn.run_sync(_run, "upgrade", "head")
    async with db.write_engine.connect() as conn:
        assert await conn.run_sync(_differences) == []
    assert await _index_names(db) == before
    assert await _search_index(db) == {"index"}
