"""Deadline reminders: which are due today, and a record so each goes out once."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import ColumnElement, and_, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ReminderSent, utcnow


def due_offset(today: date, deadline: date, offsets: list[int]) -> int | None:
    """The reminder due today: the nearest offset whose day has come, until the deadline.
    After a few days of downtime only the latest one is sent, not all the missed ones."""
    if today > deadline:
        return None
    due = [d for d in offsets if deadline - timedelta(days=d) <= today]
    return min(due) if due else None


async def claim(
    session: AsyncSession, deadline: date, days_before: int, chat_id: int, audience: str
) -> bool:
    """Record the reminder before sending it; false when it was already recorded."""
    try:
        async with session.begin_nested():
            session.add(
                ReminderSent(
                    deadline=deadline.isoformat(),
                    days_before=days_before,
                    chat_id=chat_id,
                    audience=audience,
                    outcome="sent",
                    at=utcnow(),
                )
            )
            await session.flush()
    except IntegrityError:
        return False
    return True


def _match(deadline: date, days_before: int, chat_id: int, audience: str) -> ColumnElement[bool]:
    return and_(
        ReminderSent.deadline == deadline.isoformat(),
        ReminderSent.days_before == days_before,
        ReminderSent.chat_id == chat_id,
        ReminderSent.audience == audience,
    )


async def mark_blocked(
    session: AsyncSession, deadline: date, days_before: int, chat_id: int, audience: str
) -> None:
    await session.execute(
        update(ReminderSent)
        .where(_match(deadline, days_before, chat_id, audience))
        .values(outcome="blocked")
    )


async def release(
    session: AsyncSession, deadline: date, days_before: int, chat_id: int, audience: str
) -> None:
    """A send that failed for a passing reason: let the next run try again."""
    await session.execute(
        delete(ReminderSent).where(_match(deadline, days_before, chat_id, audience))
    )
