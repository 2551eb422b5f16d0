"""`/retention` for admins: how many requests' personal data are due for erasure now, in the
coming days, and when the daily job runs (services/retention.py)."""

from __future__ import annotations

from datetime import timedelta

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot import texts
from bot.config import Settings
from db.database import Database
from db.models import utcnow
from services import retention


async def on_retention(message: Message, db: Database, settings: Settings) -> None:
    async with db.read() as session:
        seen = await retention.outlook(
            session,
            utcnow(),
            settings.retention_days,
            timedelta(seconds=settings.retention_check_seconds),
        )
    await message.answer(
        texts.retention_outlook(
            settings.retention_days,
            seen.due_now,
            seen.upcoming,
            seen.waiting_for_live,
            seen.last_run,
            seen.next_run,
        )
    )


def retention_router() -> Router:
    router = Router(name="retention")
    router.message.register(on_retention, Command("retention"))
    return router
