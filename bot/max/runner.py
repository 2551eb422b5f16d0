"""The MAX side of a bot process: the MAX bot beside Telegram's, fed into the same dispatcher.

MAX being down, slow or refusing the token never stops the Telegram side: the connection is
made in the background and tried again with growing pauses; until then MAX's outbox rows wait
(bot/outbound/delivery.py). Updates come by long polling (the marker kept in the database:
bot/max/polling.py) or, with MAX_WEBHOOK_URL, by MAX's subscription to a route on the
webhook server (bot/max/webhook.py). The two exclude each other at MAX: polling removes a
subscription left from an earlier webhook run, and a subscription makes polling fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.types import BotCommand, Update
from aiohttp import web

from bot import texts
from bot.config import Settings
from bot.max import make_max_bot
from bot.max.client import MaxApiError, MaxClient
from bot.max.mids import MidStore
from bot.max.polling import MaxPolling
from bot.max.session import MaxSession
from bot.max.updates import UpdateConverter
from bot.max.webhook import max_webhook_handler, subscribe, unsubscribe
from db.database import Database
from db.models import utcnow

log = logging.getLogger(__name__)
RETRY_CAP_SECONDS = 300
# The update types the bot handles (MAX sends all of them when none are named).
UPDATE_TYPES = ("message_created", "message_callback", "message_edited", "bot_started")


def max_webhook_secret(settings: Settings) -> str:
    """MAX_WEBHOOK_SECRET, or one derived from the token (MAX takes 5-256 of [A-Za-z0-9_-]),
    so every worker knows the same."""
    if settings.max_webhook_secret is not None:
        return settings.max_webhook_secret.get_secret_value()
    token = settings.max_token.get_secret_value() if settings.max_token else ""
    return hashlib.sha256(f"vimis-max-webhook:{token}".encode()).hexdigest()


@dataclass
class MaxState:
    """What /healthz and /health say of MAX."""

    connected: bool = False
    last_contact: datetime | None = None
    last_error: str | None = None  # an exception's type or MAX's error code, never a text

    def public(self, now: datetime) -> dict[str, object]:
        age = (now - self.last_contact).total_seconds() if self.last_contact else None
        return {
            "connected": self.connected,
            "last_contact_age_seconds": age,
            "last_error": self.last_error,
        }


class MaxSide:
    def __init__(self, settings: Settings, db: Database, dp: Dispatcher) -> None:
        if settings.max_token is None:
            raise ValueError("MAX_TOKEN is not set")
        self.settings = settings
        self.db = db
        self.dp = dp
        self.client = MaxClient(
            settings.max_token.get_secret_value(), settings.max_api_url, settings.max_timeout
        )
        self.mids = MidStore(db)
        self.bot: Bot = make_max_bot(self.client, self.mids)
        self.session = cast(MaxSession, self.bot.session)
        self.convert = UpdateConverter(self.mids, bot=self.bot)
        self.state = MaxState()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def feed(self, update: Update) -> None:
        self.state.last_contact = utcnow()
        await self.dp.feed_update(self.bot, update)

    # -- start ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="max")

    async def _connect(self) -> bool:
        """GET /me until MAX answers; False when it refuses the token (no use retrying)."""
        pause = 1.0
        while not self._stop.is_set():
            try:
                await self.bot.get_me()
                self.convert.bot_user_id = self.session.max_user_id
                await self._set_commands()
                self.state.connected = True
                self.state.last_contact = utcnow()
                self.state.last_error = None
                log.info("MAX: connected")
                return True
            except MaxApiError as exc:
                self.state.last_error = exc.code
                if exc.status == 401:
                    log.error("%s", texts.MAX_BAD_TOKEN)
                    return False
            except Exception as exc:  # MAX unreachable: the Telegram side goes on
                self.state.last_error = type(exc).__name__
            log.warning("MAX: not reachable (%s); next try in %.0f s", self.state.last_error, pause)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause * (0.8 + 0.4 * random.random())):
                    await self._stop.wait()
            pause = min(pause * 2, RETRY_CAP_SECONDS)
        return False

    async def _set_commands(self) -> None:
        # MAX has one command list for every chat: the applicant's (МИАЦ's desks are on
        # Telegram).
        await self.bot.set_my_commands(
            [BotCommand(command=n, description=t) for n, t in texts.COMMANDS.items()]
        )

    async def _run(self) -> None:
        if not await self._connect():
            return
        webhook = self.settings.max_webhook_url
        try:
            if webhook:
                await subscribe(
                    self.client, webhook, max_webhook_secret(self.settings), UPDATE_TYPES
                )
                log.info("MAX: updates by webhook")
                return
            # Polling and a subscription exclude each other: drop one left by a webhook run.
            await self._drop_subscriptions()
            log.info("MAX: updates by long polling")
            polling = MaxPolling(
                self.client, self.db, self.convert.convert, self.feed, bot_id=self.bot.id
            )
            await polling.run(self._stop)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.state.connected = False
            self.state.last_error = type(exc).__name__
            log.error("MAX side stopped: %s", type(exc).__name__)

    async def _drop_subscriptions(self) -> None:
        found: Any = await self.client.request("GET", "/subscriptions")
        for item in (found or {}).get("subscriptions", []):
            url = item.get("url")
            if url:
                await unsubscribe(self.client, url)

    # -- the webhook route ---------------------------------------------------------------------

    def add_webhook_route(self, app: web.Application) -> str | None:
        """MAX's updates on the webhook server, at MAX_WEBHOOK_URL's path."""
        url = self.settings.max_webhook_url
        if not url:
            return None
        path = urlsplit(url).path or "/max"
        handler = max_webhook_handler(
            max_webhook_secret(self.settings), self.convert.convert, self.feed
        )
        app.router.add_post(path, handler)
        return path

    # -- stop ----------------------------------------------------------------------------------

    async def stop_taking(self, seconds: float) -> None:
        """No new updates: polling finishes the batch in hand (its marker is stored after it)."""
        self._stop.set()
        if self._task is None:
            return
        try:
            async with asyncio.timeout(seconds):
                await asyncio.shield(self._task)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def close(self) -> None:
        await self.mids.close()
        await self.client.close()
