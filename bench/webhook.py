"""Webhook throughput and latency with 1, 2 and 4 worker processes on PostgreSQL + Redis.

    python -m bench.webhook --postgres URL --redis URL [--workers 1,2,4] [--users 200]
                            [--concurrency 50] [--latency 0]

For each worker count: a fresh database (migrated, the sample organisations imported), Redis
emptied, then `python -m bot` with WORKERS=N in webhook mode (the workers share one port with
SO_REUSEPORT) against the Bot API stand-in, which pushes updates to it as Telegram does: up to
40 at once, a new connection each. `--users` applicants each go through the whole request
dialog (13 updates, /new to «Отправить»), at most `--concurrency` at a time, each waiting for
the bot's answer before the next step, as a person does. The latency of an update is from
the stand-in pushing it to the answer arriving in the person's chat (the webhook's 200 comes
before the handling). Admin cards go to a group through the outbox at 20 a minute meanwhile:
that backlog must not slow the dialogs down.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.dialog import applicant_email, applicant_snils
from tests.e2e.standin import BotApiStandin

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "42:BENCH-token-0123456789abcdefghijklm"
ADMIN_CHAT = -1005550099
SAMPLE_ORGS = ROOT / "data" / "organizations.sample.csv"

STEPS: list[tuple[str, str, str]] = [
    ("say", "/new", "Согласие на обработку"),
    ("press", "✅ Согласен(на)", "подтверждённая"),
    ("press", "Да", "Вход на портал ЕГИСЗ через Госуслуги"),
    ("press", "✅ Готово", "СНИЛС"),
    ("say", "{snils}", "фамилию, имя и отчество"),
    ("say", "Смирнов Олег", "электронной почты"),
    ("say", "{email}", "Субъект РФ"),
    ("press", "✅ Да, верно", "медицинскую организацию"),
    ("say", "онкодиспансер", "найдено: 1"),
    ("press", "1. ОБРАЗЕЦ ОГБУЗ «Условный онкодиспансер №1»", "должность"),
    ("press", "1. Сотрудник организационно-методического", "Подтвердите роль"),
    ("press", "✅ Подтверждаю", "Проверьте заявку"),
    ("press", "📨 Отправить", "отправлена"),
]


@dataclass
class Result:
    workers: int
    updates: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    cards: int = 0
    pushes: int = 0
    by_step: dict[str, list[float]] = field(default_factory=dict)
    bot_cpu: float = 0.0  # CPU seconds of the bot's processes during the load
    load_cpu: float = 0.0  # of this process: the stand-in and the simulated people

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) of a process and all its descendants, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        used[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [c for c, p in parents.items() if p == pid and c not in tree]
        tree.update(children)
        frontier += children
    return sum(used.get(pid, 0.0) for pid in tree)


def open_log(path: str | None) -> Any:
    return open(path, "ab") if path else subprocess.DEVNULL


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def prepare(postgres: str, redis_url: str) -> None:
    from redis.asyncio import Redis
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from db.database import Database
    from db.migrate import upgrade_to_head
    from services.organizations import import_rows, read_rows

    engine = create_async_engine(postgres)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    db = Database(postgres)
    await upgrade_to_head(db)
    async with db.write() as session:
        await import_rows(session, read_rows(SAMPLE_ORGS), "Костромская область")
    await db.dispose()
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()


class Waiters:
    """Resolves a future when a message with a given fragment lands in a chat."""

    def __init__(self, standin: BotApiStandin) -> None:
        self.waiting: dict[Any, list[tuple[str, asyncio.Future[float]]]] = {}
        original = standin._record

        def record(method: str, p: dict[str, Any], msg: Any, file: Any = None) -> None:
            original(method, p, msg, file)
            if msg.chat_id == ADMIN_CHAT:
                return
            for fragment, future in self.waiting.get(msg.chat_id, []):
                if fragment in (msg.text or "") and not future.done():
                    future.set_result(time.monotonic())

        standin._record = record  # type: ignore[method-assign]

    def expect(self, chat_id: int, fragment: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(chat_id, []).append((fragment, future))
        return future

    def done(self, chat_id: int) -> None:
        self.waiting.pop(chat_id, None)


async def start_bot(env: dict[str, str], standin: BotApiStandin, workers: int, log: Any) -> Any:
    profile = ["-m", "cProfile", "-o", env["BENCH_PROFILE"]] if env.get("BENCH_PROFILE") else []
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *profile,
        "-m",
        "bot",
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(180):
        while sum(1 for c in standin.calls if c.method == "setMyCommands") < workers:
            if proc.returncode is not None:
                raise RuntimeError("the bot exited at start")
            await asyncio.sleep(0.2)
    await asyncio.sleep(1)  # the last worker's commands and loops
    return proc


async def run_one(args: argparse.Namespace, workers: int) -> Result:
    await prepare(args.postgres, args.redis)
    result = Result(workers)
    async with BotApiStandin() as standin:
        standin.latency = args.latency
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE_"))}
        env.update(
            BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=standin.url,
            DATABASE_URL=args.postgres,
            REDIS_URL=args.redis,
            WORKERS=str(workers),
            WEBHOOK_URL=f"http://127.0.0.1:{port}/tg",
            WEBHOOK_LISTEN=f"127.0.0.1:{port}",
            ADMIN_IDS="900001",
            ADMIN_CHAT_ID=str(ADMIN_CHAT),
            LOG_LEVEL="WARNING",
        )
        log = open_log(args.bot_log)
        proc = await start_bot(env, standin, workers, log)
        waiters = Waiters(standin)
        gate = asyncio.Semaphore(args.concurrency)

        rng = random.Random(7)

        async def applicant(user_id: int) -> None:
            values = {"snils": applicant_snils(user_id), "email": applicant_email(user_id)}
            async with gate:
                for action, arg, expect in STEPS:
                    if args.think:
                        await asyncio.sleep(rng.expovariate(1 / args.think))
                    answer = waiters.expect(user_id, expect)
                    pushed = time.monotonic()
                    if action == "say":
                        standin.push_message(user_id, arg.format(**values), first_name="Олег")
                    else:
                        standin.press(user_id, arg)
                    try:
                        arrived = await asyncio.wait_for(answer, 60)
                    except TimeoutError:
                        result.failures += 1
                        return
                    result.latencies.append(arrived - pushed)
                    result.by_step.setdefault(expect, []).append(arrived - pushed)
                    result.updates += 1
                waiters.done(user_id)

        start = time.monotonic()
        cpu_bot, cpu_me = tree_cpu(proc.pid), time.process_time()
        await asyncio.gather(*(applicant(200_000 + n) for n in range(args.users)))
        result.seconds = time.monotonic() - start
        result.bot_cpu = tree_cpu(proc.pid) - cpu_bot
        result.load_cpu = time.process_time() - cpu_me
        result.cards = sum(1 for r in standin.sent if r.chat_id == ADMIN_CHAT)
        result.pushes = len(standin.webhook_posts)
        statuses: dict[int, int] = {}
        for _, _, status in standin.webhook_posts:
            statuses[status] = statuses.get(status, 0) + 1
        slowest = sorted(((max(v), k) for k, v in result.by_step.items()), reverse=True)[:3]
        print(
            f"pushes {result.pushes} {statuses}; slowest steps (max s): "
            + ", ".join(f"{k!r} {m:.1f}" for m, k in slowest),
            flush=True,
        )
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(120):
            await proc.wait()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhook")
    parser.add_argument("--postgres", required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.0, help="each Bot API call, s")
    parser.add_argument("--bot-log", help="append the bot's output to this file")
    parser.add_argument(
        "--think", type=float, default=0.0, help="mean pause before each step, s (exponential)"
    )
    args = parser.parse_args()
    print(
        f"{args.users} applicants × {len(STEPS)} updates, {args.concurrency} at a time, "
        f"think {args.think} s, api latency {args.latency * 1000:.0f} ms, cpus {os.cpu_count()}"
    )
    print(
        "| workers | updates | updates/s | p50 ms | p99 ms | max ms | failed | cards posted "
        "| bot CPU ms/update | load CPU ms/update |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for workers in (int(w) for w in args.workers.split(",")):
        r = asyncio.run(run_one(args, workers))
        print(
            f"| {r.workers} | {r.updates} | {r.updates / r.seconds:.0f} | "
            f"{r.percentile(0.5):.1f} | {r.percentile(0.99):.1f} | "
            f"{max(r.latencies) * 1000:.0f} | {r.failures} | {r.cards} | "
            f"{r.bot_cpu * 1000 / max(1, r.updates):.1f} | "
            f"{r.load_cpu * 1000 / max(1, r.updates):.1f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
