"""Limits of what people type and press: digits of other scripts in command arguments, and
rating presses that no closed ticket asked for."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot import texts
from bot.args import ascii_number, user_id
from bot.callbacks import RateCb
from db.database import Database
from db.models import ExportBatch, StaffEvent, SupportRating
from tests.support.admin import admin, request_row, submitted
from tests.support.harness import Harness
from tests.test_dialog_question import forum, thread

# Superscript two, Arabic-Indic three, a fullwidth one: `str.isdigit()` is true for each.
OTHER_DIGITS = ("²", "٣", "１", "1²", "١٢")


@pytest.mark.parametrize("text", OTHER_DIGITS)
def test_only_ascii_digits_make_a_number(text: str) -> None:
    assert ascii_number(text) is None and user_id(text) is None


def test_ascii_numbers() -> None:
    assert ascii_number(" № 17 ") == 17 and ascii_number("123456789") == 123456789
    assert ascii_number("1234567890") is None  # beyond the request numbers' column
    assert user_id("123456789012345") == 123456789012345 and user_id("1" * 16) is None
    assert ascii_number("") is None and ascii_number("-1") is None and ascii_number("+1") is None


async def test_commands_with_digits_of_other_scripts_answer_with_their_usage(
    h: Harness, db: Database
) -> None:
    await submitted(h)
    boss = admin(h)
    await boss.press(texts.BTN_APPROVE)
    expected = {
        "/req {}": texts.REQ_USAGE,
        "/history {}": texts.HISTORY_USAGE,
        "/staff add admin {}": texts.STAFF_USAGE,
        "/staff remove {}": texts.STAFF_USAGE,
        "/granted {}": texts.GRANTED_USAGE,
        "/granted batch {}": texts.GRANTED_USAGE,
        "/export {}": texts.EXPORT_USAGE,
        "/export {}1.12.2026 15.12.2026": texts.EXPORT_USAGE,
    }
    for digits in OTHER_DIGITS:
        for command, usage in expected.items():
            sent = await boss.send(command.format(digits))
            assert [s.plain for s in sent] == [texts.plain(usage)], command.format(digits)
    assert h.session.refusals == []
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(ExportBatch)) == 0
        staff_changes = await session.scalar(
            select(func.count()).select_from(StaffEvent).where(StaffEvent.actor_id.is_not(None))
        )
    assert staff_changes == 0
    assert (await request_row(db)).status == "approved"


async def _ratings(db: Database) -> list[tuple[int, int]]:
    async with db.read() as session:
        rows = await session.scalars(select(SupportRating).order_by(SupportRating.id))
        return [(r.user_id, r.rating) for r in rows]


async def test_a_rating_counts_once_and_only_for_a_closed_ticket_of_ones_own(
    harness: Harness, db: Database
) -> None:
    operator = await forum(harness, db)
    user = harness.user()
    forged = RateCb(rating=1).pack()
    # Someone who never asked anything: no ticket, no rating.
    stranger = harness.user(5005, "Чужой")
    await stranger.send("/start")
    await stranger.press_data(stranger.last, forged)
    assert stranger.last_answer_text() == texts.RATING_NOT_EXPECTED

    await user.send("/help")
    await user.send("Вопрос")
    topic = (await thread(db)).topic_id
    await user.press_data(user.last, forged)  # the ticket is open: nothing to rate yet
    assert user.last_answer_text() == texts.RATING_NOT_EXPECTED

    await operator.send("/close", thread_id=topic)
    rating_message = user.last
    await user.press("5")
    assert user.last_answer_text() == texts.RATING_THANKS
    await user.press_data(rating_message, RateCb(rating=1).pack())  # pressed again: once only
    assert user.last_answer_text() == texts.RATING_NOT_EXPECTED
    await stranger.press_data(stranger.last, forged)
    assert await _ratings(db) == [(user.id, 5)]

    # Reopened by a new question, closed again: one more rating is asked for.
    await user.send("/help")
    await user.send("Ещё вопрос")
    await operator.send("/close", thread_id=topic)
    await user.press("3")
    assert await _ratings(db) == [(user.id, 5), (user.id, 3)]
    assert harness.unanswered_callbacks() == []
