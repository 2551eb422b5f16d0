"""Fixtures of the end-to-end tests: the Bot API stand-ins, the bot's environment, the sample
directory, and the bot running with an admin and a submitted request."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from db.database import Database
from services.organizations import import_rows, read_rows
from tests.conftest import SAMPLE_ORGS
from tests.e2e.max_standin import MaxApiStandin
from tests.e2e.standin import BotApiStandin, SentRecord
from tests.e2e.support import (
    ADMIN,
    ADMIN_CHAT,
    APPLICANT,
    DIRECTORY_FORM,
    MAX_TOKEN,
    TOKEN,
    BotProcess,
    Form,
    Person,
    fill_form,
)


@pytest.fixture
async def standin() -> AsyncIterator[BotApiStandin]:
    async with BotApiStandin() as server:
        yield server


@pytest.fixture
async def mx() -> AsyncIterator[MaxApiStandin]:
    """MAX's Bot API stand-in, answering MAX_TOKEN."""
    async with MaxApiStandin(token=MAX_TOKEN) as server:
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


@pytest.fixture
async def directory(db: Database) -> Database:
    """The sample directory of organisations (tests/data), imported for Костромская область."""
    async with db.write() as session:
        await import_rows(session, read_rows(SAMPLE_ORGS), "Костромская область")
    return db


@dataclass
class WithRequest:
    """The bot running, an applicant who has just submitted, an admin in the admins' group."""

    bot: BotProcess
    applicant: Person
    admin: Person  # in ADMIN_CHAT
    mark: int  # len(standin.sent) just before «📨 Отправить»
    submitted: SentRecord  # the applicant's «✅ Заявка № N отправлена»
    card: SentRecord | None  # the request's card in ADMIN_CHAT (None: not waited for)


class StartWithRequest(Protocol):
    async def __call__(
        self,
        *,
        admins: Sequence[int] = (ADMIN,),
        admin_name: str = "Ольга",
        form: Form = DIRECTORY_FORM,
        card: bool = True,
        **env: str,
    ) -> WithRequest: ...


@pytest.fixture
async def bot_with_request(
    standin: BotApiStandin, bot_env: dict[str, str], directory: Database
) -> AsyncIterator[StartWithRequest]:
    """Start the bot with `admins` in ADMIN_IDS (the first is `admin`, in ADMIN_CHAT_ID) and
    `env` on top, walk APPLICANT through `form` and submit; wait for the applicant's
    confirmation and, unless `card=False` (e.g. the organisation confirms first), for the card.
    The sample directory is imported before the test starts, so a test may add what it needs
    to the database before calling this. A bot still running at the end is stopped."""
    bots: list[BotProcess] = []

    async def start(
        *,
        admins: Sequence[int] = (ADMIN,),
        admin_name: str = "Ольга",
        form: Form = DIRECTORY_FORM,
        card: bool = True,
        **env: str,
    ) -> WithRequest:
        bot_env.update(ADMIN_IDS=",".join(map(str, admins)), ADMIN_CHAT_ID=str(ADMIN_CHAT), **env)
        bot = BotProcess(bot_env)
        bots.append(bot)
        await bot.start(standin)
        applicant = Person(standin, APPLICANT)
        admin = Person(standin, admins[0], admin_name, chat_id=ADMIN_CHAT)
        await fill_form(applicant, form)
        mark = len(standin.sent)
        applicant.press("📨 Отправить")
        submitted = await applicant.expect(mark, "отправлена")
        shown = await admin.expect(mark, "Заявка №") if card else None
        return WithRequest(bot, applicant, admin, mark, submitted, shown)

    yield start
    for bot in bots:
        if bot.running:
            await bot.stop()
