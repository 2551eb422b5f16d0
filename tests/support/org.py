"""Helpers for the tests of organisations' responsible persons."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select

from bot.dispatcher import build_dispatcher
from db.database import Database
from db.models import Organization
from services import staff
from services.role_matrix import RoleMatrix
from services.staff import StaffRole
from tests.conftest import ADMIN2_ID, ADMIN_CHAT, ADMIN_ID, make_settings
from tests.support.harness import Harness

ORG_A = "ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»"
ORG_B = "ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ Б»"
RESP_A1, RESP_A2, RESP_B = 880001, 880002, 880003


async def org_id(db: Database, short: str = ORG_A) -> int:
    async with db.read() as session:
        found = await session.scalar(
            select(Organization.id).where(Organization.name_short == short)
        )
    assert found is not None
    return int(found)


async def responsible(db: Database, user_id: int, short: str = ORG_A) -> None:
    organization = await org_id(db, short)
    async with db.write() as session:
        await staff.add(
            session, ADMIN_ID, user_id, StaffRole.RESPONSIBLE, organization_id=organization
        )


HarnessFactory = Callable[..., Any]


@asynccontextmanager
async def org_harness(
    db: Database, role_matrix: RoleMatrix, database_url: str, **overrides: Any
) -> AsyncIterator[Harness]:
    """The admin group with two admins (as the `h` fixture), and settings of the test's
    choosing (ORG_CONFIRMATION, say)."""
    settings = make_settings(
        database_url, admin_chat_id=ADMIN_CHAT, admin_ids=[ADMIN_ID, ADMIN2_ID], **overrides
    )
    async with db.write() as session:
        await staff.bootstrap_admins(session, settings.admin_ids)
    harness = Harness(build_dispatcher(settings, db, role_matrix))
    try:
        yield harness
    finally:
        await harness.dp.storage.close()
