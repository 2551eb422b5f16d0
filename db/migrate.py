"""Apply Alembic migrations programmatically (at start and in tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from db.database import Database

# Several workers start at once: migrations and start-up writes go one at a time.
STARTUP_LOCK = 7_261_942_002

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


async def upgrade_to_head(db: Database) -> None:
    def _upgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with db.write_engine.begin() as conn:
        await startup_lock(conn)
        await conn.run_sync(_upgrade)


async def at_head(db: Database) -> bool:
    """Whether the schema is the newest already, read without taking SQLite's write lock (a
    command run beside the bot then need not take it)."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    try:
        async with db.read() as session:
            current = set(
                (await session.scalars(text("SELECT version_num FROM alembic_version"))).all()
            )
    except Exception:  # no table yet: a new database
        return False
    return current == heads


async def startup_lock(conn: AsyncConnection | AsyncSession) -> None:
    """On PostgreSQL, wait for any other process's start-up transaction (SQLite's single
    writer already orders them)."""
    bind = conn.bind if isinstance(conn, AsyncSession) else conn.engine
    if bind is not None and bind.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STARTUP_LOCK})
