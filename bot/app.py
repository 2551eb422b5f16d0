"""Start-up and shutdown of the bot: polling or webhook, one process or several.

A shutdown (SIGTERM or SIGINT) goes in this order, so nothing Telegram counts as delivered
is lost and nothing is done twice:
1. stop taking updates (polling stops; the webhook's socket closes, requests in hand finish);
2. finish the updates in hand, up to SHUTDOWN_SECONDS (aiogram would cancel them);
3. polling only: confirm to Telegram exactly the updates handled, no more (aiogram confirms a
   batch only with the next getUpdates: stopped mid-batch, the handled half would come again);
4. let the outbox finish the sends in flight; what is not sent stays for the next start;
5. write the dialogs' state (the FSM storage's last writes), close the database.
With MAX_TOKEN, MAX's updates stop with Telegram's in step 1 (bot/max/runner.py), and its
rows go out in step 4 like Telegram's.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.methods import GetUpdates
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot import background
from bot.config import Settings
from bot.dispatcher import build_dispatcher, make_bot, make_pacer, set_commands
from bot.guard import ProcessGuard, Refused, check_settings
from bot.handlers.viewers.report import set_viewer_commands
from bot.health import add_healthz
from bot.messengers import Bots
from bot.middlewares import InFlightMiddleware
from bot.outbound.delivery import Delivery
from bot.outbound.outreach import start_report_schedule, stop_report_schedule
from bot.outbound.reminders import start_periodic, stop_periodic
from bot.retention import start_retention, stop_retention
from db.database import Database
from services import staff
from services.role_matrix import RoleMatrix

if TYPE_CHECKING:
    from bot.max.runner import MaxSide

log = logging.getLogger(__name__)
POLLING_CONCURRENCY = 64  # updates handled at once (below the Redis pool of 64)


def webhook_secret(settings: Settings, bot: Bot) -> str:
    """WEBHOOK_SECRET, or one derived from the token, so every worker knows the same."""
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value()
    return hashlib.sha256(f"vimis-webhook:{bot.token}".encode()).hexdigest()


def _host_port(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host or "0.0.0.0", int(port)


class Worker:
    """One bot process: the dispatcher, the outbox loop and the periodic job; with MAX_TOKEN,
    the MAX bot beside Telegram's."""

    def __init__(self, settings: Settings, db: Database, bot: Bot | None, dp: Dispatcher) -> None:
        self.settings = settings
        self.db = db
        self.bot = bot
        self.dp = dp
        self.max: MaxSide | None = None
        if settings.max_token is not None:
            from bot.max.runner import MaxSide

            self.max = MaxSide(settings, db, dp)
        dp["max_state"] = self.max.state if self.max is not None else None
        self.bots = Bots(*[b for b in (bot, self.max.bot if self.max else None) if b is not None])
        self.in_flight: InFlightMiddleware = dp["in_flight"]
        self.delivery = Delivery(db, settings, pacer=make_pacer(settings))
        db.outbox_listeners.append(self.delivery.wake)
        self._delivery_task: asyncio.Task[None] | None = None
        self._periodic: asyncio.Task[None] | None = None
        self._report: asyncio.Task[None] | None = None
        self._retention: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async with self.db.read() as session:
            admin_ids = await staff.admins(session)
        if self.bot is not None:
            await set_commands(self.bot, self.settings, admin_ids)
            await set_viewer_commands(self.bot, self.db)
        self._delivery_task = asyncio.create_task(self.delivery.run(self.bots), name="outbox")
        if self.max is not None:
            self.max.start()
        self._periodic = start_periodic(
            self.db, self.dp.storage, self.settings, self.delivery.owner
        )
        self._report = start_report_schedule(self.db, self.settings, self.delivery.owner)
        self._retention = start_retention(self.db, self.settings, self.delivery.owner)
        # Start-up objects live forever: keep them out of the collector's full passes, which
        # otherwise pause the bot for ≈ 200 ms.
        gc.freeze()

    async def finish_updates(self) -> None:
        if self.max is not None:
            await self.max.stop_taking(self.settings.shutdown_seconds)
        await stop_periodic(self._periodic)
        await stop_report_schedule(self._report)
        await stop_retention(self._retention)
        if not await self.in_flight.drain(self.settings.shutdown_seconds):
            log.warning("%d updates still in flight at shutdown", self.in_flight.in_flight)
        if not await background.drain(self.settings.shutdown_seconds):
            log.warning("background work still running at shutdown")

    async def close(self) -> None:
        if not await self.delivery.stop(self.settings.shutdown_seconds):
            log.warning("outbox sends cut short at shutdown: they stay for the next start")
        if self._delivery_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery_task
        if self.max is not None:
            await self.max.close()
        await self.dp.storage.close()
        await self.db.dispose()


# --- polling --------------------------------------------------------------------------------


async def _confirm_handled(bot: Bot, in_flight: InFlightMiddleware) -> None:
    offset = in_flight.confirm_offset()
    if offset is None:
        return
    try:
        await bot(GetUpdates(offset=offset, limit=1, timeout=0))
    except Exception as exc:  # they come again on the next start, and are handled again
        log.warning("could not confirm the handled updates: %s", type(exc).__name__)


async def _run_polling(worker: Worker, bot: Bot) -> None:
    dp = worker.dp
    listen = worker.settings.health_listen
    if worker.max is not None and worker.settings.max_webhook_url:
        listen = worker.settings.webhook_listen  # MAX pushes its updates there
    health = await _serve_health(worker, listen) if listen else None

    async def on_startup() -> None:
        await bot.delete_webhook()  # a webhook left set would make getUpdates fail (409)
        await worker.start()
        log.info("bot started (polling)")

    async def on_shutdown() -> None:
        await worker.finish_updates()
        await _confirm_handled(bot, worker.in_flight)
        if health is not None:
            await health.cleanup()
        await worker.close()

    dp.startup.register(on_startup)
    dp.shutdown.register(on_shutdown)
    await dp.start_polling(
        bot,
        tasks_concurrency_limit=POLLING_CONCURRENCY,
        allowed_updates=dp.resolve_used_update_types(),
    )


async def _serve_health(worker: Worker, listen: str) -> web.AppRunner:
    app = web.Application()
    add_healthz(app, worker.db, worker.settings, worker.max.state if worker.max else None)
    if worker.max is not None:
        worker.max.add_webhook_route(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, port = _host_port(listen)
    await web.TCPSite(runner, host, port, reuse_port=True).start()
    return runner


# --- webhook --------------------------------------------------------------------------------


def _counting(path: str) -> tuple[Any, Callable[[float], Awaitable[bool]]]:
    """An aiohttp middleware counting webhook requests in hand, and a wait for none."""
    state = {"n": 0}
    idle = asyncio.Event()
    idle.set()

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path != path:
            return await handler(request)
        state["n"] += 1
        idle.clear()
        try:
            return await handler(request)
        finally:
            state["n"] -= 1
            if not state["n"]:
                idle.set()

    async def wait(seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                await idle.wait()
        except TimeoutError:
            return False
        return True

    return count, wait


async def _run_webhook(worker: Worker, bot: Bot, url: str) -> None:
    settings, dp = worker.settings, worker.dp
    path = urlsplit(url).path or "/"
    secret = webhook_secret(settings, bot)
    middleware, requests_done = _counting(path)
    app = web.Application(middlewares=[middleware])

    async def on_startup() -> None:
        await bot.set_webhook(
            url,
            secret_token=secret,
            allowed_updates=dp.resolve_used_update_types(),
            max_connections=settings.webhook_max_connections,
        )
        await worker.start()
        log.info("bot started (webhook, pid %d)", os.getpid())

    async def on_shutdown() -> None:
        # The socket is closed by now; requests already read are answered 200 and handled.
        if not await requests_done(settings.shutdown_seconds):
            log.warning("webhook requests still open at shutdown")
        await worker.finish_updates()
        await worker.close()

    dp.startup.register(on_startup)
    dp.shutdown.register(on_shutdown)
    # The dispatcher's shutdown first, then the handler's (it closes the bot's session).
    setup_application(app, dp, bot=bot)
    # The answer to Telegram's POST waits for the update's handling (aiogram's default here
    # answers first): Telegram sends an update again until it is answered 2xx, so an update
    # in hand of a worker that dies (SIGKILL, OOM, a lost machine) comes again to a worker
    # that is up instead of being lost with no reply. A handling longer than 55 s is answered
    # then and finished in the background (aiogram's feed_webhook_update), before Telegram's
    # 60 s would send it twice.
    SimpleRequestHandler(dp, bot, secret_token=secret, handle_in_background=False).register(
        app, path=path
    )
    if worker.max is not None:
        worker.max.add_webhook_route(app)
    add_healthz(app, worker.db, settings, worker.max.state if worker.max else None)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=settings.shutdown_seconds)
    await runner.setup()
    host, port = _host_port(settings.webhook_listen)
    # SO_REUSEPORT: several worker processes listen on one port, the kernel spreads the
    # connections (docs/operations.md, "Several workers").
    await web.TCPSite(runner, host, port, reuse_port=True).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        log.info("stopping: no new updates; finishing the ones in hand")
    finally:
        await runner.cleanup()


# --- MAX alone (MAX_TOKEN without BOT_TOKEN) ---------------------------------------------------


async def _run_max_only(worker: Worker) -> None:
    """No Telegram: the MAX side takes updates (polling, or its webhook on WEBHOOK_LISTEN),
    the outbox and the periodic jobs run as ever, a signal stops it in the same order."""
    settings = worker.settings
    listen = settings.webhook_listen if settings.max_webhook_url else settings.health_listen
    health = await _serve_health(worker, listen) if listen else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await worker.start()
    log.info("bot started (MAX only)")
    try:
        await stop.wait()
        log.info("stopping: no new updates; finishing the ones in hand")
    finally:
        await worker.finish_updates()
        if health is not None:
            await health.cleanup()
        await worker.close()


# --- one process ----------------------------------------------------------------------------


async def run_bot(settings: Settings, role_matrix: RoleMatrix) -> int:
    db = Database(settings.database_url)
    guard = ProcessGuard()
    try:
        check_settings(settings, db.is_sqlite)
        await guard.acquire(db, settings)
    except Refused as refused:
        print(refused, file=sys.stderr)
        await db.dispose()
        return 2
    # Imported after the guard: Alembic's import logs lines that would bury a refusal's one.
    from db.migrate import startup_lock, upgrade_to_head

    try:
        await upgrade_to_head(db)
        async with db.write() as session:
            await startup_lock(session)  # several workers starting at once: one at a time
            await staff.bootstrap_admins(session, settings.admin_ids)
        await db.warm_up()
        bot = make_bot(settings) if settings.bot_token is not None else None
        dp = build_dispatcher(settings, db, role_matrix)
        worker = Worker(settings, db, bot, dp)
        if bot is None:
            await _run_max_only(worker)
        elif settings.webhook_url:
            await _run_webhook(worker, bot, settings.webhook_url)
        else:
            await _run_polling(worker, bot)
    finally:
        await guard.release()
    return 0


def run(settings: Settings, role_matrix: RoleMatrix) -> int:
    return asyncio.run(run_bot(settings, role_matrix))
