"""The delivery loop in the bot's process: pacing lives in the loop alone, so a backlog in the
support group never delays a private dialog, and one chat's backlog never delays another's
messages. Shown on a fake clock: the group's 200 sends take 10 minutes of it, while the
unrelated notice and the unrelated /start go at its first second."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import func, select

from bot import texts
from bot.outbound import support_desk
from bot.outbound.delivery import Delivery
from bot.outbound.pacing import Limits, MemoryPacer
from db.database import Database
from db.models import OutboxMessage, RelayedMessage
from services import outbox
from services.outbox import Kind
from tests.conftest import SUPPORT_CHAT_ID
from tests.support.harness import Harness
from tests.test_dialog_question import forum

QUESTIONS = 100


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


class RecordingPacer(MemoryPacer):
    """Notes every call the loop paces: (chat, fake time it went)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(Limits(), clock, clock.sleep)
        self.went: list[tuple[int, float]] = []

    async def acquire(self, chat_id: int, creates_message: bool) -> None:
        await super().acquire(chat_id, creates_message)
        self.went.append((chat_id, self.clock()))


async def until(condition: Callable[[], bool], seconds: float = 60) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - the loop under test is another task
            await asyncio.sleep(0.01)


async def test_a_backlog_in_the_support_group_delays_no_private_dialog(
    harness: Harness, db: Database
) -> None:
    await forum(harness, db)
    harness.auto_deliver = False  # the loop below sends, as the running bot's would
    for i in range(QUESTIONS):
        asking = harness.user(30_000 + i, f"Заявитель {i}")
        await asking.send("/help")
        await asking.send(f"Вопрос {i}")
    async with db.write() as session:  # someone else's notice, queued after the backlog
        outbox.enqueue(session, 4242, Kind.TEXT, {"text": "Заявка № 5 одобрена."})
    clock = FakeClock()
    pacer = RecordingPacer(clock)
    delivery = Delivery(db, harness.dp["settings"], pacer=pacer)
    loop = asyncio.create_task(delivery.run(harness.bot))

    def to_group() -> list[float]:
        return [at for chat, at in pacer.went if chat == SUPPORT_CHAT_ID]

    await until(lambda: len(to_group()) > 40)  # the group's pace is holding the backlog
    stranger = harness.user(5555, "Ольга")
    answer = await stranger.send("/start")  # while the backlog is paced
    assert answer and "ВИМИС ОНКО" in answer[-1].plain
    # A topic, and its header with the question under it.
    await until(lambda: len(to_group()) == 2 * QUESTIONS)
    await delivery.stop(5)
    await loop

    group = to_group()
    assert group[-1] - group[0] >= 9 * 60  # 200 sends at 20 a minute
    for first, twentyfirst in zip(group, group[20:], strict=False):
        assert twentyfirst - first >= 60  # never more than 20 in a minute
    (notice_at,) = [at for chat, at in pacer.went if chat == 4242]
    assert notice_at - 1000.0 < 1  # at once: the group's lane does not hold it
    assert [chat for chat, _ in pacer.went if chat == stranger.id] == []  # never paced
    headers = [s.plain for s in harness.session.log if s.chat_id == SUPPORT_CHAT_ID]
    assert len(headers) == QUESTIONS and len(harness.session.topics) == QUESTIONS
    assert {h.rsplit("\n\n", 1)[1] for h in headers} == {f"Вопрос {i}" for i in range(QUESTIONS)}
    told = [s for s in harness.session.log if s.chat_id >= 30_000 and texts.ASK_SENT in s.plain]
    assert len(told) == QUESTIONS  # each asker was answered by their own handler, at once


BURST = 40


async def _burst_then_urgent(harness: Harness, db: Database, kind: str) -> tuple[int, int]:
    """One person sends a burst of `BURST` messages, then another asks once; nothing has
    been sent yet. Returns (the burst's sender, the urgent asker)."""
    await forum(harness, db)
    harness.auto_deliver = False  # the loop below sends, as the running bot's would
    burst = harness.user(31_000, "Настойчивый")
    await burst.send("/help")
    for i in range(BURST):
        await burst.send(f"Сообщение {i}", kind=kind)
    urgent = harness.user(32_000, "Срочный")
    await urgent.send("/help")
    await urgent.send("Срочно: не могу подать заявку")
    return burst.id, urgent.id


async def test_one_persons_burst_does_not_push_anothers_question_back(
    harness: Harness, db: Database
) -> None:
    """The support group takes 20 messages a minute. Its lane takes people in turns: the
    urgent question goes after one of the burst's messages, not after all 40 (two minutes),
    and each person's messages keep their order, the topic's header first (the urgent
    question, plain text, inside it)."""
    burst_id, _ = await _burst_then_urgent(harness, db, "photo")  # photos: no merge
    clock = FakeClock()
    pacer = RecordingPacer(clock)
    delivery = Delivery(db, harness.dp["settings"], pacer=pacer)
    loop = asyncio.create_task(delivery.run(harness.bot))

    def copied(user_id: int) -> list[int]:
        return [c.message_id for c in harness.session.copies if c.from_chat_id == user_id]

    def urgent_arrived() -> bool:
        return any("Срочно: не могу" in s.plain for s in harness.session.log)

    await until(urgent_arrived)
    urgent_at = clock.now - 1000.0
    await until(lambda: len(copied(burst_id)) == BURST)
    await delivery.stop(5)
    await loop

    assert urgent_at < 15  # a few of the group's 3-second slots, not 40 of them
    assert copied(burst_id) == sorted(copied(burst_id))  # the burst in its own order
    group = [s for s in harness.session.log if s.chat_id == SUPPORT_CHAT_ID]
    for name in ("Настойчивый", "Срочный"):
        topic = next(t for (_, t), title in harness.session.topics.items() if name in title)
        first = next(s for s in group if s.thread_id == topic)
        assert "Заявок пока нет" in first.plain  # the header before the person's questions
    group_sends = [at for chat, at in pacer.went if chat == SUPPORT_CHAT_ID]
    for first_at, twentyfirst in zip(group_sends, group_sends[20:], strict=False):
        assert twentyfirst - first_at >= 60  # within the group's budget all the same


async def test_a_persons_unsent_plain_follow_ups_go_as_one_message(
    harness: Harness, db: Database
) -> None:
    """40 short texts of one person, waiting together, reach the operators as one message
    (in their order, a blank line apart), and never with another person's words."""
    burst_id, urgent_id = await _burst_then_urgent(harness, db, "text")
    delivery = Delivery(db, harness.dp["settings"])
    await delivery.drain(harness.bot)

    group = [s for s in harness.session.log if s.chat_id == SUPPORT_CHAT_ID]
    merged = [s for s in group if "Сообщение 0" in s.plain]
    assert len(merged) == 1  # inside the topic's header: the person's first text
    header, burst = merged[0].plain.split("\n\nСообщение 0", 1)
    assert "Настойчивый" in header and "Заявок пока нет" in header
    assert "Сообщение 0" + burst == "\n\n".join(f"Сообщение {i}" for i in range(BURST))
    assert not any(c.from_chat_id == burst_id for c in harness.session.copies)
    assert "Срочно" not in merged[0].plain
    urgent = [s for s in group if "Срочно" in s.plain]
    assert len(urgent) == 1 and "Срочный" in urgent[0].plain  # in its own header
    assert not any(c.from_chat_id == urgent_id for c in harness.session.copies)
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        relayed = await session.scalar(
            select(func.count())
            .select_from(RelayedMessage)
            .where(RelayedMessage.user_id == burst_id)
        )
    assert relayed == BURST  # an operator's reply to the one message reaches the person


async def test_a_question_asked_from_a_step_goes_under_its_note_with_its_follow_ups(
    harness: Harness, db: Database
) -> None:
    """The note naming the step and the plain-text question after it are one message of the
    group's budget, with the person's unsent plain follow-ups; a question that cannot go as
    text (formatted, here) keeps its note and its copy apart."""
    await forum(harness, db)
    settings = harness.dp["settings"]
    person = 33_000
    async with db.write() as session:
        for message_id, step, plain in (
            (11, "snils", "Где взять СНИЛС?"),
            (12, None, "И <где> & как?"),
            (13, "email", None),
        ):
            await support_desk.enqueue_question(
                session, settings, person, "Мария", message_id, step, plain_text=plain
            )
    await Delivery(db, settings).drain(harness.bot)

    group = [s for s in harness.session.log if s.chat_id == SUPPORT_CHAT_ID]
    header, rest = group[0].plain.split("\n\n❓", 1)
    assert "Заявок пока нет" in header  # the topic's header, the first question under it
    snils, email = texts.STEP_NAMES["snils"], texts.STEP_NAMES["email"]
    assert [f"❓{rest}", group[1].plain] == [
        f"❓ Вопрос с шага заявки: {snils}\n\nГде взять СНИЛС?\n\nИ <где> & как?",
        f"❓ Вопрос с шага заявки: {email}",
    ]
    assert [c.message_id for c in harness.session.copies] == [13]
    assert len(group) == 2  # the header with the merged question, the note (the copy apart)
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        relays = dict(
            (
                await session.execute(
                    select(RelayedMessage.user_message_id, RelayedMessage.support_message_id)
                )
            ).all()
        )
    # An operator's reply to the merged message reaches the person, as to the copy.
    assert relays[11] == relays[12] == group[0].message_id
    assert relays[13] == harness.session.copies[0].new_id
