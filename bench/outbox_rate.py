"""The outbox's delivery rate against the Bot API stand-in, which enforces Telegram's flood
limits (30 messages a second for the bot, 20 a minute per group) by answering 429.

    python -m bench.outbox_rate [--private 1000] [--group 30] [--workers 1] [--rate 25]
                                [--postgres URL --redis URL] [--latency 0.05]

Fills the outbox with `--private` messages to as many private chats and `--group` to one
group, then runs `--workers` delivery loops (each as a worker process would: its own lease
owner, pacing shared through Redis when `--redis` is given, else in memory, which is right
only for one worker) until everything is sent. Prints sends per second against the cap,
the group's spread, and the number of 429s (the goal: none).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode

from bot.config import Settings
from bot.outbound.delivery import Delivery
from bot.outbound.pacing import Limits, MemoryPacer, Pacer, RedisPacer
from bot.session import make_session
from db.database import Database
from db.migrate import upgrade_to_head
from services import outbox
from services.outbox import Kind
from tests.e2e.standin import BotApiStandin

TOKEN = "42:BENCH-token-0123456789abcdefghijklm"
GROUP = -1001000000001


async def reset_postgres(url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def run(args: argparse.Namespace, database_url: str) -> int:
    if args.postgres:
        await reset_postgres(database_url)
    db = Database(database_url)
    await upgrade_to_head(db)
    async with db.write() as session:
        for n in range(args.private):
            outbox.enqueue(session, 10_000 + n, Kind.TEXT, {"text": f"Напоминание {n}"})
        for n in range(args.group):
            outbox.enqueue(session, GROUP, Kind.TEXT, {"text": f"В группу {n}"})
    settings = Settings(_env_file=None, bot_token=TOKEN, database_url=database_url)  # type: ignore[call-arg]
    redis = None
    if args.redis:
        from redis.asyncio import Redis

        redis = Redis.from_url(args.redis)
        await redis.flushdb()
    async with BotApiStandin() as standin:
        standin.enforce_limits = True
        standin.latency = args.latency
        bot = Bot(
            TOKEN,
            session=make_session(standin.url, timeout=10),
            default=DefaultBotProperties(parse_mode=ParseMode.HTML),
        )
        limits = Limits(bot_per_second=args.rate)
        loops = []
        for _ in range(args.workers):
            shared = redis is not None and not args.unshared
            pacer: Pacer = RedisPacer(redis, limits) if shared else MemoryPacer(limits)
            loops.append(Delivery(db, settings, pacer=pacer, concurrency=args.concurrency))
        total = args.private + args.group
        start = time.monotonic()
        tasks = [asyncio.create_task(loop.run(bot)) for loop in loops]
        first_group = last_group = None
        private_done_at = None
        while True:
            sent = [r for r in standin.sent if r.method == "sendMessage"]
            group = [r for r in sent if r.chat_id == GROUP]
            if group and first_group is None:
                first_group = time.monotonic()
            if len(sent) - len(group) >= args.private and private_done_at is None:
                private_done_at = time.monotonic()
            if len(sent) >= total:
                last_group = time.monotonic()
                break
            if time.monotonic() - start > args.timeout:
                break
            await asyncio.sleep(0.05)
        for loop in loops:
            await loop.stop(10)
        await asyncio.gather(*tasks)
        await bot.session.close()
        sent_count = sum(1 for r in standin.sent if r.method == "sendMessage")
        flood = standin.flood_refusals
        # The busiest second of private sends, from the stand-in's own timestamps of the calls.
        per_second: dict[int, int] = {}
        for r in standin.sent:
            if r.method == "sendMessage" and r.chat_id != GROUP:
                second = int(r.message["date"])
                per_second[second] = per_second.get(second, 0) + 1
    await db.dispose()
    if redis is not None:
        await redis.aclose()

    elapsed_private = (private_done_at or time.monotonic()) - start
    print(
        f"workers={args.workers} pacing={'memory' if args.unshared or not args.redis else 'redis'} "
        f"database={'postgres' if args.postgres else 'sqlite'} rate cap={args.rate}/s "
        f"(Telegram: 30/s) api latency={args.latency * 1000:.0f} ms"
    )
    print(f"sent {sent_count} of {total}; 429 answers: {flood}")
    if args.private:
        print(
            f"private: {args.private} in {elapsed_private:.1f} s = "
            f"{args.private / elapsed_private:.1f} sends/s; busiest second: "
            f"{max(per_second.values()) if per_second else 0}"
        )
    if args.group and first_group is not None and last_group is not None:
        print(
            f"group: {args.group} in {last_group - first_group:.1f} s "
            f"(20 a minute: the first 20 at once, the rest a minute later)"
        )
    return 0 if flood == 0 and sent_count == total else 1


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.outbox_rate")
    parser.add_argument("--private", type=int, default=1000)
    parser.add_argument("--group", type=int, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rate", type=int, default=25)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.05, help="each Bot API call, s")
    parser.add_argument("--postgres", help="PostgreSQL URL (default: a temporary SQLite file)")
    parser.add_argument("--redis", help="Redis URL: pacing shared by the workers")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument(
        "--unshared",
        action="store_true",
        help="several workers, each pacing in memory (what --redis prevents: for comparison)",
    )
    args = parser.parse_args()
    if args.workers > 1 and not (args.redis or args.unshared):
        parser.error("several workers share Telegram's limits only through --redis")
    with TemporaryDirectory() as tmp:
        url = args.postgres or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        return asyncio.run(run(args, url))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
