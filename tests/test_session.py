"""Outgoing pacing and retries of the Bot API session."""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import EditMessageText, SendMessage

from bot.session import PacingMiddleware, RetryAfterMiddleware
from tests.harness import TOKEN


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def run(pacer: PacingMiddleware, methods: list[Any]) -> list[float]:
    """Send concurrently at one fake instant; return when each request went out."""
    clock: Clock = pacer.clock  # type: ignore[assignment]
    waited: dict[asyncio.Task[Any] | None, float] = {}

    async def sleep(seconds: float) -> None:
        waited[asyncio.current_task()] = seconds

    async def request(_bot: Bot, _method: Any) -> float:
        return clock.now + waited.get(asyncio.current_task(), 0.0)

    pacer.sleep = sleep
    bot = Bot(TOKEN)
    times = await asyncio.gather(*(pacer(request, bot, m) for m in methods))
    await bot.session.close()
    return sorted(times)


async def test_a_group_gets_20_at_once_then_one_every_3_seconds() -> None:
    pacer = PacingMiddleware(clock=Clock())
    times = await run(pacer, [SendMessage(chat_id=-100, text="x") for _ in range(25)])
    start = times[0]
    assert [round(t - start, 3) for t in times[:20]] == [0.0] * 20
    assert [round(t - start, 3) for t in times[20:]] == [3.0, 6.0, 9.0, 12.0, 15.0]


async def test_private_chats_only_share_the_bot_wide_limit() -> None:
    pacer = PacingMiddleware(clock=Clock())
    times = await run(pacer, [SendMessage(chat_id=10 + i, text="x") for i in range(40)])
    start = times[0]
    assert all(t == start for t in times[:30])
    assert round(times[30] - start, 3) == round(1 / 30, 3)
    assert round(times[39] - start, 3) == round(10 / 30, 3)


async def test_edits_are_not_paced() -> None:
    pacer = PacingMiddleware(clock=Clock())
    methods = [EditMessageText(chat_id=-100, message_id=1, text="x") for _ in range(50)]
    times = await run(pacer, methods)
    assert len(set(times)) == 1


async def test_retry_after_is_waited_and_retried() -> None:
    waits: list[float] = []
    calls = 0

    async def request(_bot: Bot, method: Any) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise TelegramRetryAfter(method=method, message="Too Many Requests", retry_after=2)
        return "ok"

    middleware = RetryAfterMiddleware()
    original = asyncio.sleep

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        await original(0)

    asyncio.sleep = fake_sleep  # type: ignore[assignment]
    try:
        bot = Bot(TOKEN)
        result = await middleware(request, bot, SendMessage(chat_id=1, text="x"))
        await bot.session.close()
    finally:
        asyncio.sleep = original  # type: ignore[assignment]
    assert result == "ok" and calls == 2 and waits == [2]
