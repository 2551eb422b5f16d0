"""One event per request for many requests at once: an INSERT … SELECT the database turns into
rows, as one statement compiled once per database, its values bound and the ids one parameter
(db/id_lists.py). A statement built afresh each time (a multi-row VALUES, or an expanding IN)
cost SQLAlchemy more than the database's own work: about a millisecond for each card or /find
seen, and a second for the log of a 100,000-row export."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, BigInteger, String, Table, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from db.id_lists import in_ids
from db.models import AccessRequest, RequestEvent, UtcDateTime


@functools.cache
def _statement(dialect: str) -> Insert:
    # Core tables, not the ORM classes: the ORM would read the parameters as column values.
    requests = AccessRequest.__table__.c
    return insert(cast(Table, RequestEvent.__table__)).from_select(
        ["request_id", "action", "actor_id", "from_status", "to_status", "details", "at"],
        select(
            requests.id,
            bindparam("action", type_=String()),
            bindparam("actor_id", type_=BigInteger()),
            bindparam("from_status", type_=String()),
            bindparam("to_status", type_=String()),
            bindparam("details", type_=JSON()),
            bindparam("at", type_=UtcDateTime()),
        ).where(in_ids(requests.id, dialect)),
    )


async def log_events(
    session: AsyncSession,
    request_ids: Sequence[int],
    action: str,
    actor_id: int | None,
    details: dict[str, Any],
    at: datetime,
    statuses: tuple[str | None, str | None] = (None, None),
) -> None:
    """One `action` event for each of these requests (each once), in the caller's
    transaction."""
    await session.execute(
        _statement(session.get_bind().dialect.name),
        {
            "ids": list(request_ids),
            "action": action,
            "actor_id": actor_id,
            "from_status": statuses[0],
            "to_status": statuses[1],
            "details": details,
            "at": at,
        },
    )
