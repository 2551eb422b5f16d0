from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.config import Settings
from bot.dispatcher import build_dispatcher
from db.database import Database
from db.migrate import upgrade_to_head
from services import staff
from services.organizations import import_rows, read_rows
from services.role_matrix import RoleMatrix, load_role_matrix
from tests.support.harness import TOKEN, Harness

# No per-example deadline: a loaded CI machine made a 200 ms deadline fail at random. Speed is
# measured in bench/, not in tests.
hypothesis_settings.register_profile("vimis", deadline=None)
hypothesis_settings.load_profile("vimis")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_ORGS = ROOT / "data" / "organizations.sample.csv"
ADMIN_ID = 900001
ADMIN2_ID = 900002
ADMIN_CHAT = -1005550001
SUPPORT_CHAT_ID = -1001234567890


async def reset_postgres(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture
async def database_url(tmp_path: Path) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        await reset_postgres(url)
        return url
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await upgrade_to_head(database)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def role_matrix() -> RoleMatrix:
    return load_role_matrix(ROOT / "role_matrix.yaml")


def _journal_beside(database_url: str) -> str:
    prefix = "sqlite+aiosqlite:///"
    if database_url.startswith(prefix):
        return str(Path(database_url.removeprefix(prefix)).parent / "erasures.jsonl")
    return ""


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "bot_token": TOKEN,
        "database_url": database_url,
        "admin_ids": [ADMIN_ID],
        "support_chat_id": SUPPORT_CHAT_ID,
        "role_matrix_path": str(ROOT / "role_matrix.yaml"),
        # The erasure journal beside a test's SQLite file, never in the work tree's data/.
        "erasure_journal": _journal_beside(database_url),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def organizations(db: Database, settings: Settings) -> None:
    async with db.write() as session:
        await import_rows(session, read_rows(SAMPLE_ORGS), settings.region_name)


@pytest.fixture
async def harness(
    db: Database, settings: Settings, role_matrix: RoleMatrix, organizations: None
) -> AsyncIterator[Harness]:
    async with db.write() as session:
        await staff.bootstrap_admins(session, settings.admin_ids)
    dp = build_dispatcher(settings, db, role_matrix)
    h = Harness(dp)
    yield h
    await dp.storage.close()


@pytest.fixture
def admin_settings(database_url: str) -> Settings:
    """An admin group (ADMIN_CHAT_ID) with two admins."""
    return make_settings(database_url, admin_chat_id=ADMIN_CHAT, admin_ids=[ADMIN_ID, ADMIN2_ID])


@pytest.fixture
async def h(
    db: Database, admin_settings: Settings, role_matrix: RoleMatrix, organizations: None
) -> AsyncIterator[Harness]:
    async with db.write() as session:
        await staff.bootstrap_admins(session, admin_settings.admin_ids)
    harness = Harness(build_dispatcher(admin_settings, db, role_matrix))
    yield harness
    await harness.dp.storage.close()


@pytest.fixture(autouse=True)
def _fresh_process_caches() -> None:
    """Each test is a new bot process: no remembered support-chat kind."""
    from bot.handlers import anonymous
    from bot.outbound import outreach, support_threads

    support_threads._forum.clear()
    anonymous._told.clear()
    outreach._median_cache.clear()
