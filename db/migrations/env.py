"""Alembic environment: runs on the connection handed over by `db.migrate`, or on its own
(for `alembic` on the command line) with DATABASE_URL from the environment."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from db.database import Database
from db.models import Base

target_metadata = Base.metadata
config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_standalone() -> None:
    from bot.config import DEFAULT_DATABASE_URL

    db = Database(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    try:
        async with db.write_engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await db.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_standalone())
