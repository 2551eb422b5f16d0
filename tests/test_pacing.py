"""Pacing under Telegram's limits, which only the delivery loop waits for."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError

from bot.outbound.pacing import Limits, MemoryPacer, RedisPacer
from bot.session import make_session


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def times(pacer: MemoryPacer, calls: list[tuple[int, bool]]) -> list[float]:
    clock: FakeClock = pacer.clock  # type: ignore[assignment]
    start, went = clock.now, []
    for chat_id, creates in calls:
        await pacer.acquire(chat_id, creates)
        went.append(round(clock.now - start, 3))
    return went


async def test_the_bot_api_session_never_sleeps_for_the_outbox() -> None:
    # A request middleware that waited for a 429 or for a group's pace would hold the delivery
    # task that made the call: outside an update (the outbox loop) a call is made once, and
    # its error goes to the loop's own policy (bot/outbound/delivery.py).
    session = make_session("http://127.0.0.1:1", timeout=5)
    bot = Bot("42:TEST-token-for-pacing-tests-0123456789", session=session)
    started = time.monotonic()
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(1, "x")  # nothing listens on port 1
    assert time.monotonic() - started < 1.0
    await session.close()


async def test_a_group_gets_20_a_minute() -> None:
    clock = FakeClock()
    pacer = MemoryPacer(Limits(bot_per_second=25), clock, clock.sleep)
    went = await times(pacer, [(-100, True)] * 45)
    assert went[19] == round(19 / 25, 3)  # twenty at once (as fast as the bot goes)
    assert went[20] == 61.0  # then a minute (and a second's margin) after the first
    for i in range(len(went) - 20):  # never 21 in any minute
        assert went[i + 20] - went[i] >= 61.0


async def test_edits_in_a_group_only_count_bot_wide() -> None:
    clock = FakeClock()
    pacer = MemoryPacer(Limits(bot_per_second=25), clock, clock.sleep)
    await times(pacer, [(-100, True)] * 20)
    clock.now += 1
    assert await times(pacer, [(-100, False)] * 3) == [0.0, 0.04, 0.08]  # the group's is full
    clock.now = 1000.0 + 61 - 0.5
    assert await times(pacer, [(-100, True)]) == [0.5]


async def test_a_private_chat_gets_one_a_second_and_the_bot_25_evenly() -> None:
    clock = FakeClock()
    pacer = MemoryPacer(Limits(bot_per_second=25), clock, clock.sleep)
    assert await times(pacer, [(7, True)] * 3) == [0.0, 1.0, 2.0]
    clock.now += 10
    went = await times(pacer, [(100 + i, True) for i in range(60)])
    # Evenly spaced, not a burst a second: a late burst beside the next one would make 50
    # in one of Telegram's seconds.
    assert went == [round(i * 0.04, 3) for i in range(60)]


async def test_after_a_429_the_chat_waits_and_the_bot_slows_down() -> None:
    clock = FakeClock()
    pacer = MemoryPacer(Limits(bot_per_second=20), clock, clock.sleep)
    await pacer.penalize(-100, 3600)
    assert await times(pacer, [(-100, True)]) == [3600.0]  # as long as Telegram said
    await pacer.penalize(-200, 1)
    clock.now += 2
    went = await times(pacer, [(100 + i, True) for i in range(3)])
    assert went == [0.0, 0.1, 0.2]  # half the rate for a while
    clock.now += 60
    assert await times(pacer, [(200 + i, True) for i in range(3)]) == [0.0, 0.05, 0.1]


class Stop(Exception):
    pass


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="needs TEST_REDIS_URL")
async def test_workers_share_the_windows_through_redis() -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(os.environ["TEST_REDIS_URL"])
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        if seconds < 1:  # the bot-wide spacing: a millisecond or so
            await asyncio.sleep(seconds)
            return
        waits.append(seconds)
        raise Stop

    limits = Limits(group_per_minute=3, bot_per_second=1000)
    prefix = f"test:pace:{uuid.uuid4().hex}:"
    first, second = (RedisPacer(redis, limits, prefix, sleep) for _ in range(2))
    try:
        await first.acquire(-100, True)
        await first.acquire(-100, True)
        await second.acquire(-100, True)  # three in this minute, from two workers
        await second.acquire(-200, True)  # another group is not held up
        with pytest.raises(Stop):
            await first.acquire(-100, True)
        assert 59.0 < waits[-1] <= 61.0
        await second.penalize(-300, 120)
        with pytest.raises(Stop):
            await first.acquire(-300, True)
        assert 119.0 < waits[-1] <= 120.0
    finally:
        keys = [k async for k in redis.scan_iter(match=prefix + "*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
