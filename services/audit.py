"""Audit of views: every time staff see a person's full data (a card opened with /req or from
a list, a /find result, a card posted or refreshed, an export) one `viewed` event per request
says who, when, which request and through what (`details.via`). Written as one
INSERT … SELECT per page, card or chunk, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import utcnow
from services import event_log

VIEWED = "viewed"


async def record_views(
    session: AsyncSession,
    request_ids: Sequence[int],
    *,
    actor_id: int | None,
    via: str,
    at: datetime | None = None,
    **details: Any,
) -> None:
    """One `viewed` event for each request, in one statement (services/event_log.py)."""
    if request_ids:
        await event_log.log_events(
            session, request_ids, VIEWED, actor_id, {"via": via, **details}, at or utcnow()
        )
