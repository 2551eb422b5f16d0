"""The delivery loop in the bot's process: pacing lives in the loop alone, so a backlog in the
support group never delays a private dialog, and one chat's backlog never delays another's
messages. Shown on a fake clock: the group's 300 sends take 15 minutes of it, while the
unrelated notice and the unrelated /start go at its first second."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot import texts
from bot.outbound.delivery import Delivery
from bot.outbound.pacing import Limits, MemoryPacer
from db.database import Database
from services import outbox
from services.outbox import Kind
from tests.conftest import SUPPORT_CHAT_ID
from tests.harness import Harness
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
    await until(lambda: len(to_group()) == 3 * QUESTIONS)  # a topic, its header, the copy
    await delivery.stop(5)
    await loop

    group = to_group()
    assert group[-1] - group[0] >= 14 * 60  # 300 sends at 20 a minute
    for first, twentyfirst in zip(group, group[20:], strict=False):
        assert twentyfirst - first >= 60  # never more than 20 in a minute
    (notice_at,) = [at for chat, at in pacer.went if chat == 4242]
    assert notice_at - 1000.0 < 1  # at once: the group's lane does not hold it
    assert [chat for chat, _ in pacer.went if chat == stranger.id] == []  # never paced
    copies = [c for c in harness.session.copies if c.chat_id == SUPPORT_CHAT_ID]
    assert len(copies) == QUESTIONS and len(harness.session.topics) == QUESTIONS
    told = [s for s in harness.session.log if s.chat_id >= 30_000 and texts.ASK_SENT in s.plain]
    assert len(told) == QUESTIONS  # each asker was answered by their own handler, at once
