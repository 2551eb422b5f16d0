"""An update reads its FSM state and data from the storage once (bot/fsm/context.py): with
Redis each read is a round trip, and the middleware, the handlers and the form's engine all
ask. What it hands out behaves as the storage's answers did."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiogram import BaseMiddleware
from aiogram.fsm.storage.base import DEFAULT_DESTINY, StorageKey
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.types import TelegramObject

from bot.config import Settings
from bot.dispatcher import build_dispatcher
from bot.fsm.context import UpdateFSMContext
from db.database import Database
from services import staff
from services.role_matrix import RoleMatrix
from tests.support.dialog_steps import to_summary
from tests.support.harness import Harness


class CountingStorage(MemoryStorage):
    """Counts the reads of the dialog's own state and data (not the prompts' keys)."""

    def __init__(self) -> None:
        super().__init__()
        self.state_reads = 0
        self.data_reads = 0

    async def get_state(self, key: StorageKey) -> str | None:
        self.state_reads += key.destiny == DEFAULT_DESTINY
        return await super().get_state(key)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        self.data_reads += key.destiny == DEFAULT_DESTINY
        return await super().get_data(key)


class ReadsPerUpdate(BaseMiddleware):
    """Outermost: what each whole update read, the FSM middleware's read included."""

    def __init__(self, storage: CountingStorage) -> None:
        self.storage = storage
        self.seen: list[tuple[int, int]] = []

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        state, data_reads = self.storage.state_reads, self.storage.data_reads
        try:
            return await handler(event, data)
        finally:
            self.seen.append(
                (self.storage.state_reads - state, self.storage.data_reads - data_reads)
            )


@pytest.fixture
async def counted(
    db: Database, settings: Settings, role_matrix: RoleMatrix, organizations: None
) -> AsyncIterator[tuple[Harness, ReadsPerUpdate]]:
    async with db.write() as session:
        await staff.bootstrap_admins(session, settings.admin_ids)
    storage = CountingStorage()
    dp = build_dispatcher(settings, db, role_matrix, storage, SimpleEventIsolation())
    reads = ReadsPerUpdate(storage)
    outer = list(dp.update.outer_middleware)
    for middleware in outer:
        dp.update.outer_middleware.unregister(middleware)
    dp.update.outer_middleware(reads)
    for middleware in outer:
        dp.update.outer_middleware(middleware)
    yield Harness(dp), reads
    await storage.close()


async def test_each_update_of_the_whole_form_reads_its_state_and_data_once(
    counted: tuple[Harness, ReadsPerUpdate],
) -> None:
    harness, reads = counted
    user = harness.user()
    await to_summary(user)
    sent = await user.press("📨 Отправить")

    assert "отправлена" in sent[-1].plain
    assert len(reads.seen) >= 12
    assert max(state for state, _ in reads.seen) == 1, reads.seen
    assert max(data for _, data in reads.seen) <= 1, reads.seen


async def test_the_context_answers_what_was_written_and_hands_out_copies() -> None:
    storage = CountingStorage()
    key = StorageKey(bot_id=1, chat_id=2, user_id=2)
    await storage.set_state(key, "Form:snils")
    await storage.set_data(key, {"answers": {"snils": "1"}})
    context = UpdateFSMContext(storage, key)

    assert await context.get_state() == "Form:snils"
    data = await context.get_data()
    data["answers"]["snils"] = "changed by the caller"
    assert await context.get_data() == {"answers": {"snils": "1"}}
    assert await context.get_value("answers") == {"snils": "1"}
    assert (storage.state_reads, storage.data_reads) == (1, 1)

    await context.set_state("Form:name")
    merged = await context.update_data(name="Иванова")
    assert merged == {"answers": {"snils": "1"}, "name": "Иванова"}
    assert await context.get_state() == "Form:name"
    assert await storage.get_state(key) == "Form:name"
    assert await storage.get_data(key) == merged

    await context.clear()
    assert await context.get_state() is None
    assert await context.get_data() == {}
    assert await storage.get_data(key) == {}
    # The context read each once; the test itself asked the storage once and twice.
    assert (storage.state_reads, storage.data_reads) == (2, 3)
