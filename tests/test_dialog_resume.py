"""A dialog survives a restart of the bot: FSM state lives in the database (or Redis)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from aiogram.fsm.storage.base import DefaultKeyBuilder
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage
from sqlalchemy import select

from bot.config import Settings
from bot.dispatcher import build_dispatcher
from db.database import Database
from db.models import AccessRequest, FsmRecord, utcnow
from services.role_matrix import RoleMatrix
from tests.support.dialog_steps import through_consent
from tests.support.harness import Harness

REDIS_URL = os.environ.get("TEST_REDIS_URL")


async def test_restart_mid_dialog_continues_from_the_same_step(
    db: Database, settings: Settings, role_matrix: RoleMatrix, organizations: None
) -> None:
    first = Harness(build_dispatcher(settings, db, role_matrix))
    user = first.user()
    await through_consent(user)
    await user.send("11223344595")
    await user.send("Иванова Мария Петровна")
    await first.dp.storage.close()  # the process stops

    async with db.read() as session:
        rows = (await session.scalars(select(FsmRecord))).all()
    assert [r.state for r in rows] == ["Form:email"]

    second = Harness(build_dispatcher(settings, db, role_matrix))  # a new process
    again = second.user(user.id)
    sent = await again.send("/start")
    assert "незаконченная заявка" in sent[-1].plain
    sent = await again.press("▶️ Продолжить")
    assert "адрес электронной почты" in sent[-1].plain
    await again.send("ivanova@example.ru")
    await again.press("✅ Да, верно")
    await again.send("ЦРБ")
    await again.press("1. ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»")
    await again.press("3. Главный врач")
    sent = await again.press("Куратор 2 уровня")
    assert "Иванова Мария Петровна" in sent[-1].plain  # typed before the restart
    await again.press("📨 Отправить")
    await second.dp.storage.close()
    async with db.read() as session:
        request = (await session.scalars(select(AccessRequest))).one()
    assert request.snils == "112-233-445 95" and request.email == "ivanova@example.ru"


async def test_plain_text_after_restart_goes_to_the_same_step(
    db: Database, settings: Settings, role_matrix: RoleMatrix
) -> None:
    first = Harness(build_dispatcher(settings, db, role_matrix))
    user = first.user()
    await through_consent(user)
    await first.dp.storage.close()
    second = Harness(build_dispatcher(settings, db, role_matrix))
    sent = await second.user(user.id).send("112 233 445 95")
    assert "фамилию, имя и отчество" in sent[-1].plain
    await second.dp.storage.close()


@pytest.fixture
async def redis_storage() -> AsyncIterator[RedisStorage]:
    if not REDIS_URL:
        pytest.skip("TEST_REDIS_URL is not set (.ci/run sets it)")
    storage = RedisStorage.from_url(
        REDIS_URL, key_builder=DefaultKeyBuilder(prefix="test_fsm", with_destiny=True)
    )
    await storage.redis.flushdb()
    yield storage
    await storage.close()


async def test_redis_storage_survives_a_restart(
    db: Database,
    settings: Settings,
    role_matrix: RoleMatrix,
    organizations: None,
    redis_storage: RedisStorage,
) -> None:
    isolation = RedisEventIsolation(redis_storage.redis)
    first = Harness(
        build_dispatcher(
            settings, db, role_matrix, storage=redis_storage, events_isolation=isolation
        )
    )
    user = first.user()
    await through_consent(user)
    await user.send("11223344595")
    assert await redis_storage.redis.keys("test_fsm:*")

    second = Harness(
        build_dispatcher(
            settings, db, role_matrix, storage=redis_storage, events_isolation=isolation
        )
    )
    sent = await second.user(user.id).send("Иванова Мария")
    assert "ФИО: <b>Иванова Мария</b>" in sent[-1].html


async def test_unfinished_dialogs_are_found_in_redis(
    db: Database,
    settings: Settings,
    role_matrix: RoleMatrix,
    organizations: None,
    redis_storage: RedisStorage,
) -> None:
    from bot.outbound.reminders import unfinished_dialogs

    h = Harness(build_dispatcher(settings, db, role_matrix, storage=redis_storage))
    await through_consent(h.user(6001))
    await through_consent(h.user(6002))
    await h.user(6003).send("/start")  # no dialog
    assert await unfinished_dialogs(redis_storage) == [6001, 6002]


async def test_unfinished_dialogs_are_found_in_the_database(
    db: Database, settings: Settings, role_matrix: RoleMatrix, organizations: None
) -> None:
    from bot.outbound.reminders import unfinished_dialogs

    h = Harness(build_dispatcher(settings, db, role_matrix))
    await through_consent(h.user(6001))
    await h.user(6003).send("/start")
    await h.user(6004).send("/help")  # a question, not a request dialog
    assert await unfinished_dialogs(h.dp.storage) == [6001]
    await h.dp.storage.close()


async def test_abandoned_drafts_are_forgotten(
    db: Database, settings: Settings, role_matrix: RoleMatrix, organizations: None
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    h = Harness(build_dispatcher(settings, db, role_matrix))
    old, fresh = h.user(6101), h.user(6102)
    for user in (old, fresh):
        await through_consent(user)
        await user.send("11223344595")
    await h.dp.storage.flush()
    async with db.write() as session:
        await session.execute(
            update(FsmRecord)
            .where(FsmRecord.key.contains(":6101:"))
            .values(updated_at=utcnow() - timedelta(days=31))
        )
    assert await h.dp.storage.purge_idle(timedelta(days=30)) == 1
    async with db.read() as session:
        keys = (await session.scalars(select(FsmRecord.key))).all()
    assert all(":6102:" in k for k in keys)
    sent = await old.send("/start")
    assert "незаконченная заявка" not in sent[-1].plain  # SNILS and all: gone
    sent = await fresh.send("/start")
    assert "незаконченная заявка" in sent[-1].plain
    await h.dp.storage.close()
