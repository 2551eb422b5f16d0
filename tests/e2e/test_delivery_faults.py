"""The delivery loop against the Bot API stand-in over HTTP, with Telegram's faults injected:
each outbox message is delivered exactly once, or marked as the fault says.

The loop runs in this process on a fake clock (backoff pauses and a 429's `retry_after` pass
at once; the HTTP calls and their timeouts are real), so an hour's wait takes no time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from sqlalchemy import func, select

from bot import texts
from bot.config import Settings
from bot.outbound import cards, support_desk
from bot.outbound.delivery import Delivery, send_now
from bot.outbound.pacing import Limits, MemoryPacer
from bot.session import make_session
from db.database import Database
from db.models import AccessRequest, OutboxMessage, ReminderSent, RequestCard, SupportThread, utcnow
from services import consent, outbox, reminders, requests, support
from services.outbox import Kind
from services.requests import Status
from tests.conftest import make_settings
from tests.e2e.standin import BotApiStandin, Fault, SentRecord
from tests.test_requests_service import NEW

TOKEN = "42:FAULTS-token-0123456789abcdefghijk"
ADMIN_CHAT = -1005550042
APPLICANT = NEW.account_id
SNILS = NEW.snils


class FakeTime:
    """The loop's clock: the real one plus whatever the loop has "slept" (rows are enqueued
    at real time, so the loop's clock never runs behind them)."""

    def __init__(self) -> None:
        self.skipped = 0.0
        self.start = utcnow()

    @property
    def now(self) -> datetime:
        return utcnow() + timedelta(seconds=self.skipped)

    def clock(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped

    def advance(self, seconds: float) -> None:
        self.skipped += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)

    @property
    def waited(self) -> float:
        return self.skipped


@dataclass
class Rig:
    standin: BotApiStandin
    db: Database
    settings: Settings
    bot: Bot
    clock: FakeTime
    delivery: Delivery

    async def settle(self, rounds: int = 500) -> None:
        """Run the loop, jumping the clock to the next due row, until the outbox is empty of
        pending rows."""
        for _ in range(rounds):
            await self.delivery.drain(self.bot)
            async with self.db.read() as session:
                due = await outbox.next_due(session)
            if due is None:
                return
            if due > self.clock.now:
                self.clock.advance((due - self.clock.now).total_seconds())
        raise AssertionError("the outbox did not settle")

    def sent(self, chat_id: int, method: str = "sendMessage") -> list[SentRecord]:
        return [r for r in self.standin.sent if r.chat_id == chat_id and r.method == method]

    def calls(self, chat_id: int, method: str = "sendMessage") -> int:
        return sum(
            1
            for c in self.standin.calls
            if c.method == method and c.params.get("chat_id") == chat_id
        )

    async def states(self) -> list[tuple[str, str, str | None]]:
        async with self.db.read() as session:
            rows = await session.execute(
                select(OutboxMessage.kind, OutboxMessage.state, OutboxMessage.last_error)
            )
        return [(k, s, e) for k, s, e in rows]


@pytest.fixture
async def rig(standin: BotApiStandin, db: Database, database_url: str) -> AsyncIterator[Rig]:
    settings = make_settings(database_url, admin_chat_id=ADMIN_CHAT, outbox_max_age_hours=1)
    clock = FakeTime()
    bot = Bot(
        TOKEN,
        session=make_session(standin.url, timeout=1),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )
    standin.timeout_hold = 1.5  # longer than the bot's 1 s request timeout
    pacer = MemoryPacer(Limits(), clock.monotonic, clock.sleep)
    delivery = Delivery(db, settings, pacer=pacer, clock=clock.clock, rng=lambda: 1.0)
    yield Rig(standin, db, settings, bot, clock, delivery)
    await bot.session.close()


async def submitted(rig: Rig) -> AccessRequest:
    async with rig.db.write() as session:
        result = await requests.submit(session, NEW)
        assert isinstance(result, requests.Submitted)
        await cards.enqueue_card_posts(session, rig.settings, result.request)
    return result.request


async def decided(rig: Rig, request_id: int, decision: Status = Status.APPROVED) -> None:
    async with rig.db.write() as session:
        assert await requests.decide(session, request_id, decision, actor_id=900001)
        request = await session.get(AccessRequest, request_id)
        assert request is not None
        await cards.announce(session, request, decision.value)


async def test_a_card_gets_through_two_500s_and_a_dropped_connection(rig: Rig) -> None:
    rig.standin.fail("sendMessage", ADMIN_CHAT, "500", "500", "drop")
    request = await submitted(rig)
    await rig.settle()
    posted = rig.sent(ADMIN_CHAT)
    assert len(posted) == 1 and SNILS in (posted[0].text or "")
    assert rig.calls(ADMIN_CHAT) == 4  # three faults, then the post
    assert rig.clock.waited > 2 + 4 + 8 - 1  # backoff between the tries (less real time)
    async with rig.db.read() as session:
        copies = list(await session.scalars(select(RequestCard)))
    assert [(c.request_id, c.message_id) for c in copies] == [(request.id, posted[0].message_id)]
    assert await rig.states() == []


async def test_a_notice_gets_through_a_dropped_connection_and_a_502(rig: Rig) -> None:
    request = await submitted(rig)
    await rig.settle()
    rig.standin.fail("sendMessage", APPLICANT, "drop", "502")
    await decided(rig, request.id)
    await rig.settle()
    told = rig.sent(APPLICANT)
    assert len(told) == 1 and "одобрена" in (told[0].text or "")
    assert rig.calls(APPLICANT) == 3


async def test_a_429_with_a_long_retry_after_waits_exactly_that_and_never_drops(rig: Rig) -> None:
    request = await submitted(rig)
    await rig.settle()
    rig.standin.fail("sendMessage", APPLICANT, Fault("429", retry_after=3600))
    await decided(rig, request.id)
    await rig.delivery.drain(rig.bot)
    assert rig.sent(APPLICANT) == [] and await rig.states() == [
        ("notice", "pending", "TelegramRetryAfter")
    ]
    rig.clock.advance(3599)
    await rig.delivery.drain(rig.bot)
    assert rig.sent(APPLICANT) == []  # not a second early
    rig.clock.advance(1)
    await rig.delivery.drain(rig.bot)
    assert len(rig.sent(APPLICANT)) == 1 and rig.calls(APPLICANT) == 2
    assert await rig.states() == []


async def test_a_person_who_blocked_the_bot_is_marked_and_not_retried(rig: Rig) -> None:
    request = await submitted(rig)
    await rig.settle()
    rig.standin.fail("sendMessage", APPLICANT, "403")
    async with rig.db.write() as session:
        await support.open_thread(session, APPLICANT, -1001, "Мария")
        await reminders.claim(session, date(2026, 12, 20), 3, APPLICANT, "applicant")
        outbox.enqueue(
            session,
            APPLICANT,
            Kind.REMINDER,
            {"text": "⏰", "deadline": "2026-12-20", "days": 3, "audience": "applicant"},
            user_id=APPLICANT,
        )
    await decided(rig, request.id)  # a notice behind the reminder, in the same chat
    await rig.settle()
    assert rig.calls(APPLICANT) == 1  # once: no retries, and the notice was not tried
    assert sorted(await rig.states()) == [
        ("notice", "undeliverable", "TelegramForbiddenError"),
        ("reminder", "undeliverable", "TelegramForbiddenError"),
    ]
    async with rig.db.read() as session:
        thread = await session.get(SupportThread, APPLICANT)
        reminder = await session.scalar(select(ReminderSent))
    assert thread is not None and thread.blocked
    assert reminder is not None and reminder.outcome == "blocked"


async def test_a_chat_that_does_not_exist_is_undeliverable_at_once(rig: Rig) -> None:
    rig.standin.fail("sendMessage", ADMIN_CHAT, "chat_not_found")
    await submitted(rig)
    await rig.settle()
    assert rig.calls(ADMIN_CHAT) == 1
    assert await rig.states() == [("card_post", "undeliverable", "TelegramBadRequest")]


async def test_an_edit_telegram_calls_not_modified_is_done(rig: Rig) -> None:
    request = await submitted(rig)
    await rig.settle()
    rig.standin.fail("editMessageText", ADMIN_CHAT, "not_modified")
    await decided(rig, request.id)
    await rig.settle()
    assert rig.calls(ADMIN_CHAT, "editMessageText") == 1
    assert await rig.states() == []


async def test_timeouts_are_tried_again(rig: Rig) -> None:
    rig.standin.fail("sendMessage", ADMIN_CHAT, "timeout", "timeout")
    await submitted(rig)
    await rig.settle()
    assert len(rig.sent(ADMIN_CHAT)) == 1 and rig.calls(ADMIN_CHAT) == 3


async def test_an_answer_lost_after_the_send_makes_the_one_duplicate(rig: Rig) -> None:
    # Telegram took the message, the connection broke before it said so: the loop cannot
    # know, tries again, and the message is there twice (docs/operations.md: "Duplicates").
    rig.standin.fail("sendMessage", ADMIN_CHAT, "drop_after")
    await submitted(rig)
    await rig.settle()
    assert len(rig.sent(ADMIN_CHAT)) == 2


async def test_any_other_refusal_fails_at_once_and_is_logged_by_type_only(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    request = await submitted(rig)
    await rig.settle()
    rig.standin.fail("sendMessage", APPLICANT, "400")
    caplog.set_level(logging.INFO)
    await decided(rig, request.id)
    await rig.settle()
    assert rig.calls(APPLICANT) == 1
    assert await rig.states() == [("notice", "failed", "TelegramBadRequest")]
    # What was written, not where from (a line number may contain the id's digits).
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "outbox notice" in logged and "TelegramBadRequest" in logged
    assert (
        "одобрена" not in logged and "parse entities" not in logged and str(APPLICANT) not in logged
    )


async def test_a_message_that_never_gets_through_fails_after_max_age(rig: Rig) -> None:
    rig.standin.fail("sendMessage", ADMIN_CHAT, *["500"] * 100)
    await submitted(rig)
    await rig.settle()
    assert rig.sent(ADMIN_CHAT) == []
    assert await rig.states() == [("card_post", "failed", "TelegramServerError")]
    assert 3600 <= rig.clock.waited < 3600 + 600
    async with rig.db.read() as session:
        health = await outbox.health(session, rig.clock.now, timedelta(days=1), 5)
    assert health.failed == 1 and health.pending == 0


async def test_after_a_withdrawal_a_card_edit_that_fails_once_still_erases_the_card(
    rig: Rig,
) -> None:
    request = await submitted(rig)
    await rig.settle()
    (card,) = rig.sent(ADMIN_CHAT)
    assert SNILS in (card.text or "")
    rig.standin.fail("editMessageText", ADMIN_CHAT, "500")
    async with rig.db.write() as session:  # what the /withdraw handler does
        result = await consent.withdraw(session, APPLICANT)
        await outbox.forget_person(session, APPLICANT)
        for request_id in result.erased:
            await cards.enqueue_card_refresh(session, request_id)
    await rig.settle()
    shown = rig.standin.messages[(ADMIN_CHAT, card.message_id)]
    assert texts.ERASED in (shown.text or "") and SNILS not in (shown.text or "")
    assert shown.buttons == []
    assert rig.calls(ADMIN_CHAT, "editMessageText") == 2
    assert request.id in result.erased


async def test_an_edit_never_overtakes_the_post_it_edits(rig: Rig) -> None:
    rig.standin.fail("sendMessage", ADMIN_CHAT, "500", "drop")
    request = await submitted(rig)
    await decided(rig, request.id)  # decided before the card got through
    await rig.settle()
    methods = [r.method for r in rig.standin.sent if r.chat_id == ADMIN_CHAT]
    assert methods[0] == "sendMessage"
    (card,) = rig.sent(ADMIN_CHAT)
    shown = rig.standin.messages[(ADMIN_CHAT, card.message_id)]
    assert "✅ Одобрена" in (shown.text or "") and shown.buttons == []
    async with rig.db.read() as session:
        left = await session.scalar(select(func.count()).select_from(OutboxMessage))
    assert left == 0


async def test_a_relay_into_the_support_chat_survives_faults_and_makes_one_topic(
    rig: Rig,
) -> None:
    support_chat = -1009990001
    rig.standin.forum_chats.add(support_chat)
    settings = rig.settings.model_copy(update={"support_chat_id": support_chat})
    rig.delivery.settings = settings
    question = rig.standin.push_message(APPLICANT, "Вопрос", first_name="Мария")["message"]
    rig.standin.fail("createForumTopic", support_chat, "500")
    rig.standin.fail("sendMessage", support_chat, "drop")  # the topic's header
    rig.standin.fail("copyMessage", support_chat, "502", Fault("429", retry_after=90))
    async with rig.db.write() as session:
        await support_desk.enqueue_question(
            session, settings, APPLICANT, "Мария", question["message_id"], "esia"
        )
    await rig.settle()
    assert sum(1 for c in rig.standin.calls if c.method == "createForumTopic") == 2
    assert len(rig.standin.topics) == 1
    in_topic = [r for r in rig.standin.sent if r.chat_id == support_chat]
    assert [r.method for r in in_topic] == ["sendMessage", "copyMessage"]
    assert "Заявок пока нет" in (in_topic[0].text or "")  # the header, first in the topic,
    assert "вход на портал ЕГИСЗ через Госуслуги" in (in_topic[0].text or "")  # the note in it
    async with rig.db.read() as session:
        thread = await session.get(SupportThread, APPLICANT)
    assert thread is not None and thread.topic_id == in_topic[1].message_thread_id


async def test_a_decision_notice_never_overtakes_the_submit_confirmation(rig: Rig) -> None:
    # The handler sends the confirmation at once (`send_now`); it meets a 500, so the loop
    # retries it later. The admin decides meanwhile: the notice waits behind it.
    rig.standin.fail("sendMessage", APPLICANT, "500")
    async with rig.db.write() as session:
        result = await requests.submit(session, NEW)
        assert isinstance(result, requests.Submitted)
        confirmation = await cards.announce_submitted(session, rig.settings, result.request)
    assert await send_now(rig.bot, rig.db, rig.settings, confirmation) is False
    await decided(rig, result.request.id)
    await rig.settle()
    told = [r.text or "" for r in rig.sent(APPLICANT)]
    assert len(told) == 2
    assert "отправлена" in told[0] and "одобрена" in told[1]


async def test_the_submit_confirmation_goes_at_once_when_nothing_is_ahead(rig: Rig) -> None:
    async with rig.db.write() as session:
        result = await requests.submit(session, NEW)
        assert isinstance(result, requests.Submitted)
        confirmation = await cards.announce_submitted(session, rig.settings, result.request)
    assert await send_now(rig.bot, rig.db, rig.settings, confirmation) is True
    assert len(rig.sent(APPLICANT)) == 1 and rig.sent(ADMIN_CHAT) == []  # the card: the loop's
