"""Health: GET /healthz for machines, /health for admins, both from the same check."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from bot import texts
from bot.config import Settings
from bot.health import add_healthz, check
from db.database import Database
from db.models import OutboxMessage, utcnow
from services import outbox
from services.outbox import Failed, Kind, Policy
from tests.conftest import ADMIN_CHAT
from tests.support.admin import admin
from tests.support.harness import Harness


async def get_healthz(db: Database, settings: Settings) -> tuple[int, dict[str, object]]:
    app = web.Application()
    add_healthz(app, db, settings)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/healthz")
        return response.status, await response.json()


async def test_healthz_is_200_while_the_outbox_keeps_up_and_503_when_it_stalls(
    db: Database, settings: Settings
) -> None:
    status, body = await get_healthz(db, settings)
    assert status == 200
    assert body == {
        "database": True,
        "pending": 0,
        "oldest_age_seconds": None,
        "failed_last_day": 0,
        "undeliverable_last_day": 0,
        "healthy": True,
    }
    async with db.write() as session:
        outbox.enqueue(session, 5, Kind.TEXT, {"text": "x"})
        outbox.enqueue(session, 6, Kind.TEXT, {"text": "y"})
    status, body = await get_healthz(db, settings)
    assert status == 200 and body["pending"] == 2
    stalled = utcnow() - timedelta(seconds=settings.health_max_outbox_age_seconds + 60)
    async with db.write() as session:
        await session.execute(update(OutboxMessage).values(created_at=stalled))
    status, body = await get_healthz(db, settings)
    assert status == 503 and body["healthy"] is False
    assert float(str(body["oldest_age_seconds"])) > settings.health_max_outbox_age_seconds


async def test_healthz_is_503_without_the_database(settings: Settings) -> None:
    gone = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        status, body = await get_healthz(gone, settings)
    finally:
        await gone.dispose()
    assert status == 503 and body["database"] is False and body["healthy"] is False


async def test_health_for_admins_in_words_without_personal_data(h: Harness, db: Database) -> None:
    settings: Settings = h.dp["settings"]
    async with db.write() as session:
        outbox.enqueue(session, 1234567, Kind.NOTICE, {"notice": "approved"}, user_id=1234567)
        outbox.enqueue(session, ADMIN_CHAT, Kind.CARD_POST, request_id=1)
    async with db.write() as session:
        rows = await outbox.claim(session, "test", utcnow(), 10, Policy())
        for row in rows:
            await outbox.apply(session, row, Failed("TelegramBadRequest"), utcnow(), Policy())
    status = await check(db, settings)
    assert status.failed_last_day == 2 and status.healthy

    report = (await admin(h).send("/health"))[-1].plain
    assert report.startswith("🟢 Бот работает.")
    assert "не доставлено: сбои — 2" in report
    assert "уведомление заявителю → личный чат: TelegramBadRequest" in report
    assert "карточка заявки → чат админов: TelegramBadRequest" in report
    assert "1234567" not in report  # a person's Telegram id is not shown

    done = (await admin(h).send("/health retry"))[-1].plain
    assert done == texts.health_requeued(2)
    assert (await check(db, settings)).failed_last_day == 0


async def test_health_is_for_admins_only(h: Harness) -> None:
    stranger = h.member(123456, ADMIN_CHAT, "Гость")
    assert (await stranger.send("/health"))[-1].plain == texts.NO_ACCESS


async def test_concurrent_healthz_requests_share_one_check_within_the_cache_window(
    db: Database, settings: Settings, monkeypatch: object
) -> None:
    """/healthz is polled by anyone who can reach it: 32 pollers must not cost 32 reads of
    the outbox while applicants wait. One check serves every request of its window."""
    import asyncio

    import bot.health as health

    calls = 0
    real = health.check

    async def counted(*args: object, **kwargs: object) -> health.Status:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)  # the requests meet while the check runs
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(health, "check", counted)  # type: ignore[attr-defined]
    app = web.Application()
    add_healthz(app, db, settings)
    async with TestClient(TestServer(app)) as client:
        answers = await asyncio.gather(*(client.get("/healthz") for _ in range(32)))
        bodies = [await a.json() for a in answers]
        assert {a.status for a in answers} == {200}
        assert calls == 1
        assert all(b == bodies[0] for b in bodies)
        again = await client.get("/healthz")  # still within the window
        assert again.status == 200 and calls == 1


async def test_the_oldest_pending_row_is_read_through_an_index(db: Database) -> None:
    if not db.is_sqlite:
        return
    from sqlalchemy import text
    from sqlalchemy.dialects import sqlite

    from db.outbox import OLDEST_PENDING

    query = str(
        OLDEST_PENDING.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    )
    async with db.read() as session:
        plan = (await session.execute(text(f"EXPLAIN QUERY PLAN {query}"))).all()
    details = " ".join(str(row[-1]) for row in plan)
    assert "ix_outbox_pending_age" in details, details
