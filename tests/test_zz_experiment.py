# TEMPORARY guard-removal experiment: the unique index dropped
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from db.database import Database
from tests.test_dialog_navigation import test_double_submit_makes_one_request as test_t1  # noqa
from tests.test_requests_service import test_concurrent_submits_make_one_request as test_t2  # noqa


@pytest.fixture
async def db(db: Database) -> AsyncIterator[Database]:
    async with db.write() as session:
        await session.execute(text("DROP INDEX uq_access_requests_live"))
    yield db
