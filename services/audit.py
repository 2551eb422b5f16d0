"""Audit of views: every time staff see a person's full data (a card opened with /req or from
a list, a /find result, a card posted or refreshed, an export) one `viewed` event per request
says who, when, which request and through what (`details.via`). Written as one multi-row
INSERT per page, card or chunk, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import RequestEvent, utcnow

VIEWED = "viewed"


async def record_views(
    session: AsyncSession,
    request_ids: Sequence[int],
    *,
    actor_id: int | None,
    via: str,
    at: datetime | None = None,
    **details: Any,
) -> int:
    """One `viewed` event for each request, in one statement. Returns the rows written."""
    ids = list(dict.fromkeys(request_ids))
    if not ids:
        return 0
    now = at or utcnow()
    rows = [
        {
            "request_id": request_id,
            "action": VIEWED,
            "actor_id": actor_id,
            "details": {"via": via, **details},
            "at": now,
        }
        for request_id in ids
    ]
    await session.execute(insert(RequestEvent).values(rows))
    return len(rows)
