"""Deadline reminders: due days, once each across a restart, blocked people, the send rate."""

from __future__ import annotations

from datetime import date

from aiogram.methods import SendMessage
from sqlalchemy import select

from bot.dispatcher import build_dispatcher
from bot.reminders import RateLimiter, send_due
from db.database import Database
from db.models import ReminderSent
from services import staff
from services.reminders import due_offset
from services.role_matrix import RoleMatrix
from tests.admin_support import ADMIN_CHAT, submitted
from tests.conftest import make_settings
from tests.dialog_steps import through_consent
from tests.harness import Harness

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


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sent_at: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_rate_limiter_keeps_under_25_a_second() -> None:
    clock = FakeClock()
    limiter = RateLimiter(25, clock=clock, sleep=clock.sleep)
    for _ in range(100):
        await limiter.wait()
        clock.sent_at.append(clock.now)
    for i in range(len(clock.sent_at) - 25):
        assert clock.sent_at[i + 25] - clock.sent_at[i] >= 1.0 - 1e-9
    assert clock.sent_at[-1] - clock.sent_at[0] < 4.0  # and not slower than it must be


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
    clock = FakeClock()
    limiter = RateLimiter(25, clock=clock, sleep=clock.sleep)

    report = await send_due(h.bot, db, h.dp.storage, settings, date(2026, 12, 17), limiter)
    assert (report.sent, report.blocked) == (3, 1)  # two applicants and the admin chat
    texts_to = {
        int(c.chat_id): c.text
        for c in h.session.calls
        if isinstance(c, SendMessage) and "приёма заявок" in c.text
    }
    assert set(texts_to) == {4001, 4002, 4003, ADMIN_CHAT}  # 4002 tried: blocked the bot
    assert "осталось 3 дн." in texts_to[4001]
    assert "В очереди на рассмотрение: 1" in texts_to[ADMIN_CHAT]
    await h.dp.storage.close()

    restarted = Harness(build_dispatcher(settings, db, role_matrix))
    restarted.session.blocked.add(4002)  # still blocked
    again = await send_due(
        restarted.bot, db, restarted.dp.storage, settings, date(2026, 12, 18), limiter
    )
    assert (again.sent, again.blocked) == (0, 0)
    async with db.read() as session:
        rows = (await session.scalars(select(ReminderSent))).all()
    assert sorted((r.chat_id, r.outcome) for r in rows) == sorted(
        [(4001, "sent"), (4002, "blocked"), (4003, "sent"), (ADMIN_CHAT, "sent")]
    )
    next_one = await send_due(
        restarted.bot, db, restarted.dp.storage, settings, date(2026, 12, 19), limiter
    )
    assert (next_one.sent, next_one.blocked) == (3, 1)  # the 1-day reminder is a new one
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
    clock = FakeClock()
    report = await send_due(
        h.bot, db, h.dp.storage, settings, DEADLINE, RateLimiter(25, clock, clock.sleep)
    )
    assert report.sent == 3  # 4001 as applicant and as admin, 4002 as applicant
    last_day = [
        c.text for c in h.session.calls if isinstance(c, SendMessage) and "последний день" in c.text
    ]
    assert len(last_day) == 3
    await h.dp.storage.close()
