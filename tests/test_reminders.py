"""Deadline reminders: due days, once each across a restart and across workers, blocked
people; the periodic job once per period."""

from __future__ import annotations

import asyncio
from datetime import date

from aiogram.methods import SendMessage
from sqlalchemy import select

from bot.dispatcher import build_dispatcher
from bot.outbound.reminders import run_once, send_due
from db.database import Database
from db.models import ReminderSent
from services import staff
from services.reminders import due_offset
from services.role_matrix import RoleMatrix
from tests.conftest import make_settings
from tests.support.admin import ADMIN_CHAT, submitted
from tests.support.dialog_steps import through_consent
from tests.support.harness import Harness

DEADLINE = date(2026, 12, 20)


def test_due_offset() -> None:
    offsets = [7, 3, 1]
    assert due_offset(date(2026, 12, 12), DEADLINE, offsets) is None
    assert due_offset(date(2026, 12, 13), DEADLINE, offsets) == 7
    assert due_offset(date(2026, 12, 16), DEADLINE, offsets) == 7
    assert due_offset(date(2026, 12, 17), DEADLINE, offsets) == 3
    assert due_offset(date(2026, 12, 19), DEADLINE, offsets) == 1  # after downtime: the latest
    assert due_offset(date(2026, 12, 20), DEADLINE, offsets) == 1
    assert due_offset(date(2026, 12, 21), DEADLINE, offsets) is None


async def test_reminders_go_once_and_survive_a_restart(
    db: Database, role_matrix: RoleMatrix, database_url: str, organizations: None
) -> None:
    settings = make_settings(
        database_url, deadline=DEADLINE, admin_chat_id=ADMIN_CHAT, admin_ids=[900001]
    )
    h = Harness(build_dispatcher(settings, db, role_matrix))
    for user_id in (4001, 4002, 4003):
        await through_consent(h.user(user_id))  # unfinished dialogs
    await submitted(h, 4004)  # finished: no reminder
    h.session.blocked.add(4002)

    report = await send_due(db, h.dp.storage, settings, date(2026, 12, 17))
    assert (report.sent, report.skipped) == (4, 0)  # three applicants and the admin chat
    await h.deliver()
    texts_to = {
        int(c.chat_id): c.text
        for c in h.session.calls
        if isinstance(c, SendMessage) and "срока подачи заявок" in c.text
    }
    assert set(texts_to) == {4001, 4002, 4003, ADMIN_CHAT}  # 4002 tried: blocked the bot
    assert "осталось 3 дня" in texts_to[4001]
    assert "В очереди на рассмотрение: 1" in texts_to[ADMIN_CHAT]
    await h.dp.storage.close()

    restarted = Harness(build_dispatcher(settings, db, role_matrix))
    restarted.session.blocked.add(4002)  # still blocked
    again = await send_due(db, restarted.dp.storage, settings, date(2026, 12, 18))
    assert (again.sent, again.skipped) == (0, 4)
    assert await restarted.deliver() == 0
    async with db.read() as session:
        rows = (await session.scalars(select(ReminderSent))).all()
    assert sorted((r.chat_id, r.outcome) for r in rows) == sorted(
        [(4001, "sent"), (4002, "blocked"), (4003, "sent"), (ADMIN_CHAT, "sent")]
    )
    next_one = await send_due(db, restarted.dp.storage, settings, date(2026, 12, 19))
    assert next_one.sent == 4  # the 1-day reminder is a new one
    await restarted.deliver()
    async with db.read() as session:
        rows = (
            await session.scalars(select(ReminderSent).where(ReminderSent.days_before == 1))
        ).all()
    assert sorted((r.chat_id, r.outcome) for r in rows) == sorted(
        [(4001, "sent"), (4002, "blocked"), (4003, "sent"), (ADMIN_CHAT, "sent")]
    )
    await restarted.dp.storage.close()


async def test_an_admin_with_a_draft_gets_both_reminders_and_parked_drafts_count(
    db: Database, role_matrix: RoleMatrix, database_url: str, organizations: None
) -> None:
    settings = make_settings(database_url, deadline=DEADLINE, admin_ids=[4001])
    async with db.write() as session:
        await staff.bootstrap_admins(session, settings.admin_ids)
    h = Harness(build_dispatcher(settings, db, role_matrix))
    await through_consent(h.user(4001))  # the admin's own unfinished request
    parked = h.user(4002)
    await through_consent(parked)
    await parked.send("/help")  # writing a question: the draft is parked, not gone
    report = await send_due(db, h.dp.storage, settings, DEADLINE)
    assert report.sent == 3  # 4001 as applicant and as admin, 4002 as applicant
    await h.deliver()
    last_day = [
        c.text for c in h.session.calls if isinstance(c, SendMessage) and "последний день" in c.text
    ]
    assert len(last_day) == 3
    await h.dp.storage.close()


async def test_the_periodic_job_runs_once_a_period_whichever_worker_asks(
    db: Database, role_matrix: RoleMatrix, database_url: str, organizations: None
) -> None:
    settings = make_settings(
        database_url, deadline=DEADLINE, admin_ids=[900001], reminder_check_seconds=3600
    )
    h = Harness(build_dispatcher(settings, db, role_matrix))
    await through_consent(h.user(4001))
    ran = await asyncio.gather(
        *(run_once(db, h.dp.storage, settings, f"w{i}", date(2026, 12, 17)) for i in range(3))
    )
    assert sorted(ran) == [False, False, True]  # three workers at once: one runs it
    assert await run_once(db, h.dp.storage, settings, "w0", date(2026, 12, 17)) is False
    async with db.read() as session:
        rows = (await session.scalars(select(ReminderSent))).all()
    assert [r.chat_id for r in rows] == [4001]  # the applicant (no admins in staff here)
    await h.dp.storage.close()
