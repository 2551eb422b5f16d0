"""Fixtures of the end-to-end tests: the Bot API stand-in and the bot's environment."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.standin import BotApiStandin
from tests.e2e.support import TOKEN


@pytest.fixture
async def standin() -> AsyncIterator[BotApiStandin]:
    async with BotApiStandin() as server:
        yield server


@pytest.fixture
def bot_env(standin: BotApiStandin, database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE_"))}
    env.update(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=standin.url,
        DATABASE_URL=database_url,
        SUPPORT_CHAT_ID="-1009876543210",
        ADMIN_IDS="900001",
        DEADLINE="2026-12-20",
        LOG_LEVEL="INFO",
        ERASURE_JOURNAL=str(tmp_path / "erasures.jsonl"),  # not the work tree's data/
    )
    env.pop("REDIS_URL", None)
    return env
