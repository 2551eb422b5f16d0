"""One factory that wires configuration, FSM storage, database and routers."""

from __future__ import annotations

import logging
import traceback
from datetime import timedelta
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.types import BotCommand, BotCommandScopeChat, ErrorEvent

from bot import texts
from bot.config import Settings
from bot.fsm.context import UpdateFSMContextMiddleware
from bot.fsm.storage import DatabaseStorage
from bot.handlers import wings
from bot.middlewares import CleanTextMiddleware, InFlightMiddleware, PressAnswerMiddleware
from bot.outbound.pacing import ByMessenger, Limits, MemoryPacer, Pacer, RedisPacer
from bot.prompts import PromptMiddleware
from bot.session import make_session
from db.database import Database
from services.accounts import Messenger
from services.role_matrix import RoleMatrix

log = logging.getLogger(__name__)


def make_storage(settings: Settings, db: Database) -> tuple[BaseStorage, BaseEventIsolation]:
    """FSM state in the project's database by default, in Redis when REDIS_URL is set."""
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage
        from redis.asyncio import BlockingConnectionPool, Redis

        # A blocking pool waits for a free connection instead of failing past its size.
        pool = BlockingConnectionPool.from_url(settings.redis_url, max_connections=64, timeout=20)
        redis = Redis(connection_pool=pool)
        # Unfinished drafts expire by themselves after DRAFT_RETENTION_DAYS idle days.
        ttl = timedelta(days=settings.draft_retention_days)
        storage = RedisStorage(
            redis,
            key_builder=DefaultKeyBuilder(prefix="vimis_fsm", with_destiny=True),
            state_ttl=ttl,
            data_ttl=ttl,
        )
        return storage, RedisEventIsolation(redis, key_builder=storage.key_builder)
    return DatabaseStorage(db), SimpleEventIsolation()


def make_pacer(settings: Settings) -> Pacer:
    """The delivery loop's pacing, per messenger: shared through Redis when there is one
    (several workers share one bot's limits), else in this process."""
    rates = {Messenger.TELEGRAM: settings.outbox_rate}
    if settings.max_token is not None:
        rates[Messenger.MAX] = settings.max_rate
    pacers: dict[Messenger, Pacer] = {}
    redis = None
    if settings.redis_url:
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.redis_url)
    for messenger, rate in rates.items():
        limits = Limits(bot_per_second=rate)
        # Telegram's windows keep the keys they had before MAX came.
        prefix = "vimis:pace:" if messenger is Messenger.TELEGRAM else f"vimis:pace:{messenger}:"
        pacers[messenger] = (
            RedisPacer(redis, limits, prefix=prefix) if redis is not None else MemoryPacer(limits)
        )
    return ByMessenger(pacers)


def make_bot(settings: Settings) -> Bot:
    if settings.bot_token is None:
        raise ValueError("BOT_TOKEN is not set")
    return Bot(
        settings.bot_token.get_secret_value(),
        session=make_session(settings.telegram_api_url, settings.telegram_timeout),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


async def on_error(event: ErrorEvent, bot: Bot) -> bool:
    """Log the failure without its message (exception texts can carry personal data) and tell
    the person that their input is kept."""
    exc = event.exception
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("update %s failed: %s\n%s", event.update.update_id, type(exc).__name__, frames)
    update = event.update
    query = update.callback_query
    chat_id = None
    if update.message is not None and update.message.chat.type == "private":
        chat_id = update.message.chat.id
    elif query is not None and query.message is not None and query.message.chat.type == "private":
        chat_id = query.message.chat.id
    if chat_id is not None:
        try:
            await bot.send_message(chat_id, texts.UNEXPECTED_ERROR)
        except Exception as send_exc:
            log.warning("could not report the error to the chat: %s", type(send_exc).__name__)
    return True


def build_dispatcher(
    settings: Settings,
    db: Database,
    role_matrix: RoleMatrix,
    storage: BaseStorage | None = None,
    events_isolation: BaseEventIsolation | None = None,
    **extra: Any,
) -> Dispatcher:
    if storage is None:
        storage, events_isolation = make_storage(settings, db)
    dp = Dispatcher(
        storage=storage,
        events_isolation=events_isolation or SimpleEventIsolation(),
        db=db,
        settings=settings,
        role_matrix=role_matrix,
        **extra,
    )
    in_flight = InFlightMiddleware()
    dp["in_flight"] = in_flight
    # First of all update middlewares: an update waiting for its user's turn (the event
    # isolation lock, taken in aiogram's FSM middleware) is in hand too, and shutdown waits.
    builtin = list(dp.update.outer_middleware)
    for middleware in builtin:
        dp.update.outer_middleware.unregister(middleware)
    dp.update.outer_middleware(in_flight)
    # Each update reads its FSM state and data from the storage once (bot/fsm/context.py);
    # the storage is aiogram's middleware's, which shutdown closes.
    fsm = UpdateFSMContextMiddleware(dp.fsm.storage, dp.fsm.events_isolation, dp.fsm.strategy)
    for middleware in builtin:
        dp.update.outer_middleware(fsm if middleware is dp.fsm else middleware)
    dp.fsm = fsm
    # Typed text is cleaned of control and invisible characters before anything reads it.
    clean = CleanTextMiddleware()
    for observer in (dp.message, dp.edited_message, dp.callback_query):
        observer.outer_middleware(clean)
    dp.callback_query.middleware(PressAnswerMiddleware())
    dp.errors.register(on_error)
    # Read once per message: the person's pending prompt, for every wing's prompt filters.
    dp.message.outer_middleware(PromptMiddleware())
    dp.include_routers(*wings())  # their order, and why: bot/handlers/__init__.py
    return dp


async def set_commands(bot: Bot, settings: Settings, admin_ids: list[int]) -> None:
    """The applicant's commands for everyone; admins also see theirs, in the admin chat and
    in their private chats."""
    applicant = [BotCommand(command=n, description=t) for n, t in texts.COMMANDS.items()]
    admin = [BotCommand(command=n, description=t) for n, t in texts.ADMIN_COMMANDS.items()]
    admin += [
        BotCommand(command="report", description=texts.COMMAND_REPORT),
        BotCommand(command="broadcast", description=texts.COMMAND_BROADCAST),
    ]
    await bot.set_my_commands(applicant)
    if settings.admin_chat_id is not None:
        await bot.set_my_commands(admin, scope=BotCommandScopeChat(chat_id=settings.admin_chat_id))
    for admin_id in admin_ids:
        try:
            await bot.set_my_commands(
                applicant + admin, scope=BotCommandScopeChat(chat_id=admin_id)
            )
        except TelegramBadRequest:
            pass  # an admin who has not started the bot yet: the chat does not exist for it
