"""/health for admins (admin chat or an admin's private chat): the bot's state in words, with
the deliveries that failed; `/health retry` puts the failed ones back in the queue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot import texts
from bot.config import Settings
from bot.health import check
from db.database import Database
from services import outbox

if TYPE_CHECKING:
    from bot.max.runner import MaxState


def _where(chat_id: int, settings: Settings) -> str:
    if chat_id in settings.admin_chats:
        return texts.HEALTH_WHERE["admin"]
    if chat_id in settings.support_chats:
        return texts.HEALTH_WHERE["support"]
    return texts.HEALTH_WHERE["private" if chat_id > 0 else "admin"]


async def on_health(
    message: Message,
    command: CommandObject,
    db: Database,
    settings: Settings,
    max_state: MaxState | None = None,
) -> None:
    args = (command.args or "").split()
    if args == ["retry"]:
        async with db.write() as session:
            count = await outbox.requeue_failed(session)
        await message.answer(texts.health_requeued(count))
        return
    if args:
        await message.answer(texts.HEALTH_USAGE)
        return
    status = await check(db, settings, max_state=max_state)
    failures = [
        (row, kind, _where(chat_id, settings), error or "?", at)
        for row, kind, chat_id, error, at in status.failures
    ]
    await message.answer(
        texts.health_report(
            status.database,
            status.healthy,
            status.pending,
            status.oldest_age_seconds,
            status.failed_last_day,
            status.undeliverable_last_day,
            failures,
            status.max,
        )
    )


def health_router() -> Router:
    router = Router(name="health")
    router.message.register(on_health, Command("health"))
    return router
