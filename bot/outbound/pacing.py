"""Pacing of the delivery loop under Telegram's limits: about 30 messages a second for the
bot, 20 a minute in a group, about one a second in a private chat.

Only the delivery loop (bot/outbound/delivery.py) waits here; no update handler ever does.
Each limit is a sliding window ("at most `limit` sends in any `period`"), checked and
reserved in one step, so concurrent senders never overshoot. After a 429 the chat is held
for `retry_after` and the bot's overall rate halves for a minute.

Each messenger has limits of its own (MAX: about 30 requests a second for the bot by its
docs, refusals measured from about 10): `ByMessenger` keeps a pacer per messenger and sends
each chat to its own.

`MemoryPacer` serves one process; with several workers the windows must be shared, and
`RedisPacer` keeps them in Redis (one Lua script checks and reserves every window at once,
on Redis's clock).
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from services.accounts import Messenger, messenger_of

if TYPE_CHECKING:
    from redis.asyncio import Redis


@dataclass(frozen=True)
class Limits:
    bot_per_second: int = 25  # under Telegram's ≈ 30, with room for the direct answers
    group_per_minute: int = 20
    private_per_second: int = 1
    slow_down_seconds: float = 60.0  # after a 429, the bot's sends are twice as far apart
    # Telegram counts a send when it arrives, the loop when it starts; arrivals jitter by the
    # request's latency, so the group's minute gets a second of margin.
    margin: float = 1.0

    def windows(self, chat_id: int, creates_message: bool) -> list[tuple[str, int, float]]:
        """(key, limit, period) of every window this call counts against: at most `limit`
        calls in any `period` seconds. The bot's own is even spacing (one per 1/rate s), not
        a burst a second: a second's burst arriving late beside the next one's would make 50
        in one of Telegram's seconds."""
        found = [("bot", 1, 1.0 / self.bot_per_second)]
        if chat_id < 0:
            # Edits do not add messages to a group: only the bot-wide limit applies to them.
            if creates_message:
                found.append((f"chat:{chat_id}", self.group_per_minute, 60.0 + self.margin))
        else:
            found.append((f"chat:{chat_id}", self.private_per_second, 1.0))
        return found


class Pacer(Protocol):
    async def acquire(self, chat_id: int, creates_message: bool) -> None:
        """Wait until a call to `chat_id` fits every window, and count it."""

    async def penalize(self, chat_id: int, retry_after: float) -> None:
        """Telegram answered 429: hold the chat and slow the bot down."""


class NoPacing:
    """For tests that are not about pacing."""

    async def acquire(self, chat_id: int, creates_message: bool) -> None:
        return None

    async def penalize(self, chat_id: int, retry_after: float) -> None:
        return None


class MemoryPacer:
    def __init__(
        self,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = limits or Limits()
        self.clock = clock
        self.sleep = sleep
        self._sent: dict[str, deque[float]] = {}
        self._held: dict[str, float] = {}
        self._slow_until = 0.0
        self._bot_turn = asyncio.Lock()  # FIFO: senders wait for the bot's window in order

    def _earliest(self, key: str, limit: int, period: float, now: float) -> float:
        sent = self._sent.get(key)
        if sent is None:
            return max(now, self._held.get(key, 0.0))
        while len(sent) > limit or (sent and sent[0] <= now - period):
            sent.popleft()
        ready = sent[-limit] + period if len(sent) >= limit else now
        return max(ready, self._held.get(key, 0.0))

    async def acquire(self, chat_id: int, creates_message: bool) -> None:
        """The chat's windows first (a lane sends one at a time: nobody races for them), then
        the bot's, with senders queued in order on a lock rather than all waking for the same
        moment. Each send is counted at the moment it really goes: a sender delayed by a busy
        loop does not bunch up with the next ones."""
        (bot, limit, spacing), *windows = self.limits.windows(chat_id, creates_message)
        await self._wait(windows)
        async with self._bot_turn:
            while True:
                now = self.clock()
                period = spacing * 2 if now < self._slow_until else spacing
                ready = max(self._earliest(bot, limit, period, now), self._ready(windows, now))
                if ready <= now:
                    break
                await self.sleep(ready - now)
            for key, _, _ in [(bot, limit, period), *windows]:
                self._sent.setdefault(key, deque()).append(now)
        self._forget_idle(now)

    def _ready(self, windows: list[tuple[str, int, float]], now: float) -> float:
        return max([self._earliest(k, n, p, now) for k, n, p in windows] or [now])

    async def _wait(self, windows: list[tuple[str, int, float]]) -> None:
        while True:
            now = self.clock()
            ready = self._ready(windows, now)
            if ready <= now:
                return
            await self.sleep(ready - now)

    async def penalize(self, chat_id: int, retry_after: float) -> None:
        now = self.clock()
        self._held[f"chat:{chat_id}"] = now + retry_after
        self._slow_until = now + self.limits.slow_down_seconds

    def _forget_idle(self, now: float) -> None:
        if len(self._sent) > 10_000:  # one window per chat ever paced: drop the quiet ones
            self._sent = {k: q for k, q in self._sent.items() if q and q[-1] > now - 61.0}
            self._held = {k: t for k, t in self._held.items() if t > now}


# KEYS: the windows' sorted sets (the bot's first when counting); ARGV: prefix, member,
# count (1: record the call when every window has room; 0: only check), then limit and period
# (ms) per key. Checked on Redis's clock. Returns 0, or how many ms to wait before asking again.
_ACQUIRE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local prefix = ARGV[1]
local count = ARGV[3] == '1'
local slow = count and redis.call('EXISTS', prefix .. 'slow') == 1
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 + 2 * i])
  local period = tonumber(ARGV[3 + 2 * i])
  if slow and i == 1 then period = period * 2 end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
  local held = tonumber(redis.call('GET', key .. ':held') or '0')
  if held > now then wait = math.max(wait, held - now) end
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, -limit, -limit, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + period - now)
  end
end
if wait > 0 or not count then return wait end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2] .. ':' .. now)
  redis.call('PEXPIRE', key, 2 * tonumber(ARGV[3 + 2 * i]) + 1000)
end
return 0
"""


class RedisPacer:
    """The same windows, shared by every worker through Redis."""

    def __init__(
        self,
        redis: Redis,
        limits: Limits | None = None,
        prefix: str = "vimis:pace:",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.redis = redis
        self.limits = limits or Limits()
        self.prefix = prefix
        self.sleep = sleep
        self._script = redis.register_script(_ACQUIRE)
        self._me = uuid.uuid4().hex[:8]
        self._seq = 0
        self._turn = asyncio.Lock()

    async def acquire(self, chat_id: int, creates_message: bool) -> None:
        """As `MemoryPacer.acquire`: the chat's windows are waited for outside the queue (a
        group's minute holds up only its own lane), then this worker's senders ask for the
        bot's window one at a time, in order."""
        windows = self.limits.windows(chat_id, creates_message)
        await self._ask(windows[1:], count=False)
        async with self._turn:
            await self._ask(windows, count=True)

    async def _ask(self, windows: list[tuple[str, int, float]], *, count: bool) -> None:
        if not windows:
            return
        keys = [self.prefix + key for key, _, _ in windows]
        while True:
            self._seq += 1
            args: list[str | int] = [self.prefix, f"{self._me}:{self._seq}", int(count)]
            for _, limit, period in windows:
                args += [limit, math.ceil(period * 1000)]
            wait_ms = int(await self._script(keys=keys, args=args))
            if wait_ms <= 0:
                return
            await self.sleep(wait_ms / 1000)

    async def penalize(self, chat_id: int, retry_after: float) -> None:
        held = self.prefix + f"chat:{chat_id}:held"
        now_s, now_us = await self.redis.time()
        until = int(now_s) * 1000 + int(now_us) // 1000 + int(retry_after * 1000)
        await self.redis.set(held, until, px=int(retry_after * 1000) + 1000)
        await self.redis.set(self.prefix + "slow", 1, px=int(self.limits.slow_down_seconds * 1000))


class ByMessenger:
    """One pacer per messenger; a chat's account key picks it (services/accounts.py)."""

    def __init__(self, pacers: Mapping[Messenger, Pacer]) -> None:
        self.pacers = dict(pacers)

    def _for(self, chat_id: int) -> Pacer:
        return self.pacers.get(messenger_of(chat_id)) or NoPacing()

    async def acquire(self, chat_id: int, creates_message: bool) -> None:
        await self._for(chat_id).acquire(chat_id, creates_message)

    async def penalize(self, chat_id: int, retry_after: float) -> None:
        await self._for(chat_id).penalize(chat_id, retry_after)
