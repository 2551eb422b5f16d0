"""The Alembic migrations build exactly the schema the models describe, and the newest one
can be undone and applied again (a deployment rolled back and forward)."""

from __future__ import annotations

import warnings
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from db import search_index
from db.database import Database
from db.migrate import alembic_config
from db.models import Base, ExportAudit, RequestEvent
from db.repositories import EventRepository
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


async def test_export_events_become_one_audit_row_per_export_and_back(db: Database) -> None:
    """0022: the `reexported` and export `viewed` events written before it are folded into
    one export_audit row per export; the status changes' `exported` events and other views
    stay; a downgrade writes the events back."""
    people = ((7, "112-233-445 95"), (8, "431-052-771 35"), (9, "006-012-788 00"))
    for person, snils in people:
        new = replace(NEW, account_id=person, snils=snils, email=f"{person}@example.ru")
        async with db.write() as session:
            assert isinstance(await requests.submit(session, new), requests.Submitted)
    async with db.write_engine.begin() as conn:
        await conn.run_sync(_run, "downgrade", "0021")
    t1, t1b, t2, t3, t4 = (datetime(2026, 12, 1, 10, m, tzinfo=UTC) for m in range(5))
    cli_view = {"via": "export", "cli": True}
    old: list[tuple[int, str, int | None, dict[str, Any], datetime]] = [
        # A new batch by admin 5, marked in two chunks (each with its own time).
        *((n, "exported", 5, {"reason": None, "batch": 1}, t1) for n in (1, 2)),
        *((n, "viewed", 5, {"via": "export"}, t1) for n in (1, 2)),
        (3, "exported", 5, {"reason": None, "batch": 1}, t1b),
        (3, "viewed", 5, {"via": "export"}, t1b),
        # `/export all` by admin 6, then `python -m bot export --batch 1` on the server.
        *((n, "reexported", 6, {"selection": "all"}, t2) for n in (1, 2, 3)),
        *((n, "viewed", 6, {"via": "export"}, t2) for n in (1, 2, 3)),
        *((n, "reexported", None, {"selection": "cli 1"}, t3) for n in (1, 2, 3)),
        *((n, "viewed", None, cli_view, t3) for n in (1, 2, 3)),
        (1, "viewed", 5, {"via": "req"}, t4),  # a card opened: stays an event
    ]
    async with db.write() as session:
        for request_id, action, actor, details, at in old:
            EventRepository(session).add(request_id, action, actor_id=actor, details=details, at=at)
    async with db.write_engine.begin() as conn:
        await conn.run_sync(_run, "upgrade", "head")
    async with db.read() as session:
        rows = (await session.scalars(select(ExportAudit).order_by(ExportAudit.at))).all()
        left = [
            (e.request_id, e.action, (e.details or {}).get("via"))
            for e in await session.scalars(
                select(RequestEvent)
                .where(RequestEvent.action != "created")
                .order_by(RequestEvent.id)
            )
        ]
    assert [(r.at, r.actor_id, r.cli, r.selection, r.batch_id, r.request_ids) for r in rows] == [
        (t1, 5, False, "new", 1, [1, 2, 3]),
        (t2, 6, False, "all", None, [1, 2, 3]),
        (t3, None, True, "1", None, [1, 2, 3]),
    ]
    assert all(r.count == 3 and r.files is None for r in rows)
    assert left == [
        (1, "exported", None),
        (2, "exported", None),
        (3, "exported", None),
        (1, "viewed", "req"),
    ]

    async with db.write_engine.begin() as conn:
        await conn.run_sync(_run, "downgrade", "0021")
    async with db.read() as session:
        back = {
            (e.request_id, e.action, e.actor_id, repr(sorted((e.details or {}).items())), e.at)
            for e in await session.scalars(
                select(RequestEvent).where(RequestEvent.action.in_(("viewed", "reexported")))
            )
        }
    expected = {
        (n, a, actor, repr(sorted(d.items())), at)
        for n, a, actor, d, at in old
        if a != "exported" and not (at == t1b)  # the new batch's views come back at its start
    } | {(3, "viewed", 5, repr([("via", "export")]), t1)}
    assert back == expected
    async with db.write_engine.begin() as conn:
        await conn.run_sync(_run, "upgrade", "head")
