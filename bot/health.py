"""How the bot is doing: the database reachable, the outbox's depth and the age of its oldest
undelivered row, the deliveries that failed. `GET /healthz` answers it as JSON (503 when
unhealthy: a load balancer or an orchestrator restarts or routes around the process);
admins read it in words with /health (bot/handlers/admin/health.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import text

from bot.config import Settings
from db.database import Database
from db.models import utcnow
from services import outbox

if TYPE_CHECKING:
    from bot.max.runner import MaxState

log = logging.getLogger(__name__)
WINDOW = timedelta(days=1)
# /healthz is polled by machines, often by many at once: one check answers every request of
# this window, so pollers cost the applicants' database one read a window, not one each.
HEALTHZ_CACHE_SECONDS = 2.0


@dataclass
class Status:
    database: bool
    pending: int = 0
    oldest_age_seconds: float | None = None
    failed_last_day: int = 0
    undeliverable_last_day: int = 0
    healthy: bool = False
    # MAX_TOKEN set: whether MAX answers, how long since it last did, its last error.
    max: dict[str, object] | None = None
    # (row, kind, chat, error type, when): for /health, never in /healthz (chat ids are people's)
    failures: list[tuple[int, str, int, str | None, datetime | None]] = field(
        default_factory=list, repr=False
    )

    def public(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("failures")
        if data["max"] is None:  # MAX_TOKEN unset: nothing to say of it
            data.pop("max")
        return data


async def check(
    db: Database, settings: Settings, shown: int = 10, max_state: MaxState | None = None
) -> Status:
    """MAX's state is reported, not judged: MAX being away is no reason to restart a process
    that serves Telegram (its rows wait in the outbox, whose age is judged)."""
    now = utcnow()
    try:
        async with asyncio.timeout(5):
            async with db.read() as session:
                await session.execute(text("SELECT 1"))
                found = await outbox.health(session, now, WINDOW, shown)
    except Exception as exc:
        log.warning("health check: database unreachable (%s)", type(exc).__name__)
        return Status(database=False)
    age = found.oldest_age.total_seconds() if found.oldest_age is not None else None
    return Status(
        database=True,
        pending=found.pending,
        oldest_age_seconds=age,
        failed_last_day=found.failed,
        undeliverable_last_day=found.undeliverable,
        healthy=age is None or age < settings.health_max_outbox_age_seconds,
        failures=found.recent_failures,
        max=max_state.public(now) if max_state is not None else None,
    )


def add_healthz(
    app: web.Application, db: Database, settings: Settings, max_state: MaxState | None = None
) -> None:
    turn = asyncio.Lock()  # requests arriving during a check wait for it, not start their own
    last: list[tuple[float, Status]] = []

    async def healthz(_request: web.Request) -> web.Response:
        async with turn:
            if not last or time.monotonic() - last[0][0] >= HEALTHZ_CACHE_SECONDS:
                status = await check(db, settings, shown=0, max_state=max_state)
                last[:] = [(time.monotonic(), status)]
            status = last[0][1]
        return web.json_response(status.public(), status=200 if status.healthy else 503)

    app.router.add_get("/healthz", healthz)
