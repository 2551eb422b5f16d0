"""Helpers for the admin tests: the admin chat, submitted requests, cards."""

from __future__ import annotations

from sqlalchemy import select

from db.database import Database
from db.models import AccessRequest, RequestEvent
from tests.conftest import ADMIN2_ID, ADMIN_CHAT, ADMIN_ID
from tests.support.dialog_steps import to_summary
from tests.support.harness import ChatUser, Harness, Sent

__all__ = ["ADMIN2_ID", "ADMIN_CHAT", "admin", "cards", "events", "request_row", "submitted"]


def admin(h: Harness, user_id: int = ADMIN_ID, name: str = "Ольга") -> ChatUser:
    return h.member(user_id, ADMIN_CHAT, name)


async def submitted(h: Harness, user_id: int = 1001, **kwargs: str) -> ChatUser:
    applicant = h.user(user_id)
    await to_summary(applicant, **kwargs)
    await applicant.press("📨 Отправить")
    return applicant


def cards(h: Harness) -> list[Sent]:
    """Current state of every card in the admin chat."""
    return [
        h.session.messages[(s.chat_id, s.message_id)]
        for s in h.session.log
        if s.chat_id == ADMIN_CHAT and "📥" in s.plain
    ]


async def request_row(db: Database, number: int = 1) -> AccessRequest:
    async with db.read() as session:
        row = await session.get(AccessRequest, number)
    assert row is not None
    return row


async def events(db: Database) -> list[tuple[str, str | None, int | None]]:
    """The request's changes; the audit of views (`viewed`) is tested on its own
    (tests/test_personal_data_life.py)."""
    async with db.read() as session:
        rows = (
            await session.scalars(
                select(RequestEvent)
                .where(RequestEvent.action != "viewed")
                .order_by(RequestEvent.id)
            )
        ).all()
    return [(e.action, e.to_status, e.actor_id) for e in rows]
