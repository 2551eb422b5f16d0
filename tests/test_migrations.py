"""The Alembic migrations build exactly the schema the models describe, and the newest one
can be undone and applied again (a deployment rolled back and forward)."""

from __future__ import annotations

import warnings
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from db.database import Database
from db.migrate import alembic_config
from db.models import Base


def _differences(connection: Connection) -> list[Any]:
    with warnings.catch_warnings():
        # Neither backend reflects the expression index on lower(email): nothing to compare.
        warnings.simplefilter("ignore")
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


def _run(connection: Connection, action: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLite's table rebuild reflects that index too
        getattr(command, action)(config, revision)


async def test_migrations_match_the_models(db: Database) -> None:
    async with db.write_engine.connect() as conn:
        assert await conn.run_sync(_differences) == []


async def test_the_newest_migration_goes_down_and_up_again(db: Database) -> None:
    async with db.write_engine.begin() as conn:
        await conn.run_sync(_run, "downgrade", "-1")
    async with db.write_engine.begin() as conn:
        await conn.run_sync(_run, "upgrade", "head")
    async with db.write_engine.connect() as conn:
        assert await conn.run_sync(_differences) == []
