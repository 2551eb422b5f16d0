"""Admin work at N requests: each admin command through the real dispatcher, timed, with the
longest stretch the event loop served nobody else, the longest hold of SQLite's write lock and
the peak memory added. See bench/README.md.

    python -m bench.admin                         # SQLite, N = 10,000 and 100,000
    python -m bench.admin --postgres [URL]        # and PostgreSQL (its schema is DROPPED)
    python -m bench.admin --samples DIR           # files to look at (#14), no timing
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.methods import SendMessage
from sqlalchemy import event, func, select, text, update

from bench import admin_data
from bench.dialog import (
    DEFAULT_POSTGRES,
    ROLE_MATRIX,
    TOKEN,
    FastSession,
    Updates,
    describe_code,
    make_settings,
    percentile,
    reset_postgres,
)
from bot import background
from bot.dispatcher import build_dispatcher
from db.database import Database
from db.migrate import upgrade_to_head
from db.models import AccessRequest, ExportAudit, RequestEvent
from services import staff
from services.role_matrix import load_role_matrix

ROOT = Path(__file__).resolve().parents[1]
ADMIN = 1  # bootstrapped from ADMIN_IDS, as the bot does
COVERED_ORGS = 460  # requests go to these; the other 40 of the 500 have no user (/coverage)

# (name, target ms or None, repeats). The targets of the issue "Admin work at 100,000 requests".
TARGETS = {
    "/queue": 10.0,
    "/find SNILS": 5.0,
    "/find e-mail": 5.0,
    "/find name + org": 20.0,
    "/find word start": 20.0,
    "/coverage": 30.0,
    "/stats (the figures)": 200.0,
    "/report (the text)": 300.0,
    "/export (new batch)": None,
    "/export all": 3000.0,
    "/export all (100% exported)": 3000.0,
    "reminders (job)": None,
    "CLI export --all": None,
}
LOOP_BLOCK_TARGET_MS = 50.0
WRITE_LOCK_TARGET_MS = 100.0
EXPORT_MEMORY_TARGET_MB = 100.0


@dataclass
class Measure:
    name: str
    times_ms: list[float] = field(default_factory=list)
    loop_block_ms: float = 0.0
    write_hold_ms: float = 0.0
    write_wait_ms: float = 0.0  # the longest wait of a probe write (another process's lock)
    added_rss_mb: float = 0.0
    # The peak RSS of the largest child process (export build, XLSX) when one of this
    # command's children was the largest so far; 0 when none was.
    child_rss_mb: float = 0.0
    note: str = ""


@dataclass
class RunResult:
    backend: str
    n: int
    load_s: float = 0.0
    measures: list[Measure] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class TimedSession(FastSession):
    """The fake Bot API, noting when the bot sent its first message of a command."""

    def __init__(self) -> None:
        super().__init__()
        self.first_message: float | None = None

    async def make_request(self, bot: Bot, method: Any, timeout: int | None = None) -> Any:  # noqa: ASYNC109
        if isinstance(method, SendMessage) and self.first_message is None:
            self.first_message = time.perf_counter()
        return await super().make_request(bot, method, timeout)


class Heartbeat:
    """Wakes every millisecond; the longest gap between two wake-ups, less the millisecond, is
    the longest time the loop served nobody else."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._since = time.perf_counter()
        self._task: asyncio.Task[None] | None = None
        self.rss_start = self.rss_peak = 0.0

    async def __aenter__(self) -> Heartbeat:
        self.longest = 0.0
        self._since = time.perf_counter()
        self.rss_start = self.rss_peak = current_rss_mb()
        self._task = asyncio.create_task(self._beat())
        await asyncio.sleep(0)
        return self

    async def _beat(self) -> None:
        beats = 0
        while True:
            self._since = time.perf_counter()
            await asyncio.sleep(0.001)
            self.longest = max(self.longest, time.perf_counter() - self._since - 0.001)
            beats += 1
            if beats % 10 == 0:  # this process's memory, every ten beats
                self.rss_peak = max(self.rss_peak, current_rss_mb())

    async def __aexit__(self, *_exc: object) -> None:
        assert self._task is not None
        # The stretch since the last wake-up counts too (a command that never yielded).
        self.longest = max(self.longest, time.perf_counter() - self._since - 0.001)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def current_rss_mb() -> float:
    """This process's resident memory now (Linux)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def largest_child_mb() -> float:
    """The peak RSS of the largest child process waited for so far (its own children too)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


class WriteHolds:
    """How long each write transaction of this process held SQLite's write lock (BEGIN
    IMMEDIATE to COMMIT or ROLLBACK on the single writer connection)."""

    def __init__(self, db: Database) -> None:
        self.longest = 0.0
        self._since: float | None = None
        engine = db.write_engine.sync_engine
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "commit", self._end)
        event.listen(engine, "rollback", self._end)

    def _begin(self, _conn: Any) -> None:
        self._since = time.perf_counter()

    def _end(self, _conn: Any) -> None:
        if self._since is not None:
            self.longest = max(self.longest, time.perf_counter() - self._since)
            self._since = None


class WriteProbe:
    """A tiny write every 20 ms, as an applicant's «Отправить» would be: the longest it waited
    is how long someone else (another process too) held the write lock."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> WriteProbe:
        self.longest = 0.0
        self._task = asyncio.create_task(self._probe())
        return self

    async def _probe(self) -> None:
        while True:
            started = time.perf_counter()
            async with self.db.write() as session:
                await session.execute(text("UPDATE export_batches SET size = size WHERE id = -1"))
            self.longest = max(self.longest, time.perf_counter() - started)
            await asyncio.sleep(0.02)

    async def __aexit__(self, *_exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def run_backend(backend: str, n: int, url: str, repeat: int, workdir: Path) -> RunResult:
    result = RunResult(backend, n)
    if backend == "postgres":
        await reset_postgres(url)
    settings = make_settings(url, None)  # ADMIN_IDS = [1]
    db = Database(url)
    await upgrade_to_head(db)
    started = time.perf_counter()
    await admin_data.load(db, n, covered_orgs=COVERED_ORGS)
    result.load_s = time.perf_counter() - started
    async with db.write() as session:
        await staff.bootstrap_admins(session, settings.admin_ids)
    await db.warm_up()
    dp = build_dispatcher(settings, db, load_role_matrix(ROLE_MATRIX))
    fake = TimedSession()
    bot = Bot(TOKEN, session=fake, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    updates = Updates(bot, fake)
    holds = WriteHolds(db) if db.is_sqlite else None
    rng = random.Random(5)
    gc.collect()
    gc.freeze()  # as the bot does after start-up

    async def command(body: str) -> None:
        errors = fake.error_messages
        await dp.feed_update(bot, updates.message(ADMIN, body))
        if fake.error_messages != errors:
            result.problems.append(f"{body}: the bot's error handler fired")

    async def measure(
        name: str, times: int, run: Callable[[], Awaitable[None]], warm: bool = True
    ) -> Measure:
        m = Measure(name)
        child_before = largest_child_mb()  # before the warm-up run: its children count
        if warm:  # once unmeasured: SQLAlchemy compiles its statements, caches fill
            await run()
            await background.drain(60)
        if holds is not None:
            holds.longest = 0.0
        async with Heartbeat() as beat:
            for _ in range(times):
                began = time.perf_counter()
                await run()
                m.times_ms.append((time.perf_counter() - began) * 1000)
                await asyncio.sleep(0.005)
        await background.drain(60)
        m.loop_block_ms = beat.longest * 1000
        m.write_hold_ms = holds.longest * 1000 if holds is not None else 0.0
        m.added_rss_mb = beat.rss_peak - beat.rss_start
        child_after = largest_child_mb()
        m.child_rss_mb = child_after if child_after > child_before else 0.0
        result.measures.append(m)
        print(f"  {line(m)}", flush=True)
        return m

    async def audited(name: str, times: int, run: Callable[[], Awaitable[None]]) -> None:
        """`measure`, and what each run wrote to the audit: one export_audit row, and no
        event rows (an export's audit is its row, not an event per request)."""
        before = await audit_rows(db)
        m = await measure(name, times, run)
        after = await audit_rows(db)
        runs = times + 1  # with the warm-up
        events, exports = ((a - b) / runs for a, b in zip(after, before, strict=True))
        m.note = f"per run: {events:g} request_events rows, {exports:g} export_audit rows"
        print(f"    {m.note}", flush=True)
        if events or exports != 1:
            result.problems.append(f"{name}: {m.note}")

    def some(count: int) -> list[int]:
        return [rng.randrange(1, n + 1) for _ in range(count)]

    def cycle(bodies: list[str]) -> Callable[[], Awaitable[None]]:
        items = iter(bodies * 2)
        return lambda: command(next(items))

    light = max(repeat * 4, 20)
    # The floor: an admin command that reads nothing (it answers how to use /find). Every
    # command below pays this much for the dispatcher, the rights check and the session.
    await measure("floor: /find (usage)", light, lambda: command("/find"))
    await measure("/queue", light, lambda: command("/queue"))
    await measure(
        "/find SNILS", light, cycle([f"/find {admin_data.snils_of(i)}" for i in some(light)])
    )
    await measure(
        "/find e-mail", light, cycle([f"/find {admin_data.email_of(i)}" for i in some(light)])
    )
    named = [
        f"/find {rng.choice(admin_data.SURNAMES)} {rng.choice(admin_data.TOWNS)}"
        for _ in range(light)
    ]
    await measure("/find name + org", light, cycle(named))
    starts = [f"/find {rng.choice(admin_data.SURNAMES)[:4]}" for _ in range(light)]
    await measure("/find word start", light, cycle(starts))
    await measure("/coverage", light, lambda: command("/coverage"))
    stats_message: list[float] = []

    async def stats_command() -> None:
        fake.first_message = None
        began = time.perf_counter()
        await command("/stats")
        assert fake.first_message is not None
        stats_message.append((fake.first_message - began) * 1000)

    measured = await measure("/stats (and both charts)", repeat, stats_command)
    figures = Measure("/stats (the figures)", stats_message[-repeat:], measured.loop_block_ms)
    result.measures.append(figures)
    print(f"  {line(figures)}", flush=True)
    report_message: list[float] = []

    async def report_command() -> None:
        fake.first_message = None
        began = time.perf_counter()
        await command("/report")
        assert fake.first_message is not None
        report_message.append((fake.first_message - began) * 1000)

    measured = await measure("/report (text, chart, XLSX)", repeat, report_command)
    text_only = Measure("/report (the text)", report_message[-repeat:], measured.loop_block_ms)
    result.measures.append(text_only)
    print(f"  {line(text_only)}", flush=True)
    await measure("reminders (job)", repeat, lambda: reminders_job(bot, db, dp, settings))
    await measure("/export (new batch)", 1, lambda: command("/export"), warm=False)
    await audited("/export all", repeat, lambda: command("/export all"))
    # The figure: /export all of 100,000 rows, every request in an exported status.
    async with db.write() as session:
        await session.execute(
            update(AccessRequest).values(status="exported", export_batch_id=1, erased_at=None)
        )
    await audited("/export all (100% exported)", repeat, lambda: command("/export all"))
    await cli_export(result, db, url, workdir)
    await dp.storage.close()
    await db.dispose()
    return result


async def audit_rows(db: Database) -> tuple[int, int]:
    """Rows in request_events and in export_audit."""
    async with db.read() as session:
        events = await session.scalar(select(func.count()).select_from(RequestEvent))
        exports = await session.scalar(select(func.count()).select_from(ExportAudit))
    return int(events or 0), int(exports or 0)


async def reminders_job(bot: Bot, db: Database, dp: Any, settings: Any) -> None:
    """The scheduled job's run on a reminder day (the queue count for the admins)."""
    from bot.outbound import reminders

    today = date.today()
    deadline_settings = settings.model_copy(update={"deadline": today + timedelta(days=1)})
    await reminders.send_due(db, dp.storage, deadline_settings, today)


async def cli_export(result: RunResult, db: Database, url: str, workdir: Path) -> None:
    """`python -m bot export --all` in its own process beside this running "bot": how long it
    takes, and how long this process's writes and loop waited meanwhile."""
    m = Measure("CLI export --all")
    out = workdir / "cli.xlsx"
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
    env.pop("BOT_TOKEN", None)
    async with Heartbeat() as beat, WriteProbe(db) as probe:
        began = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "export",
            "--all",
            "--out",
            str(out),
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await process.communicate()
        m.times_ms.append((time.perf_counter() - began) * 1000)
    if process.returncode != 0:
        result.problems.append(f"CLI export failed: {stderr.decode()[-500:]}")
    m.note = stdout.decode().strip()[:80]
    m.loop_block_ms = beat.longest * 1000
    m.write_wait_ms = probe.longest * 1000
    result.measures.append(m)
    print(f"  {line(m)}", flush=True)


def line(m: Measure) -> str:
    ordered = sorted(m.times_ms)
    median = statistics.median(ordered) if ordered else 0.0
    p99 = percentile(ordered, 0.99)
    target = TARGETS.get(m.name)
    verdicts = []
    if target is not None:
        verdicts.append(f"time ≤ {target:g}: {'met' if p99 <= target else 'NOT met'}")
    verdicts.append(
        f"block ≤ {LOOP_BLOCK_TARGET_MS:g}: "
        + ("met" if m.loop_block_ms <= LOOP_BLOCK_TARGET_MS else "NOT met")
    )
    lock = max(m.write_hold_ms, m.write_wait_ms)
    if lock:
        verdicts.append(
            f"lock ≤ {WRITE_LOCK_TARGET_MS:g}: "
            + ("met" if lock <= WRITE_LOCK_TARGET_MS else "NOT met")
        )
    if m.name.startswith("/export all"):
        added = m.added_rss_mb + m.child_rss_mb
        verdict = "met" if added <= EXPORT_MEMORY_TARGET_MB else "NOT met"
        if not m.child_rss_mb:  # an earlier command's child was larger: this one's unknown
            verdict += " by the bot (its children not told apart)"
        verdicts.append(f"memory ≤ {EXPORT_MEMORY_TARGET_MB:g}: {verdict}")
    child = f"{m.child_rss_mb:>7.0f}" if m.child_rss_mb else f"{'-':>7}"
    return (
        f"{m.name:<28} {len(ordered):>3} {median:>9.1f} {p99:>9.1f} {m.loop_block_ms:>8.1f} "
        f"{lock:>8.1f} {m.added_rss_mb:>7.1f} {child}  {'; '.join(verdicts)}"
    )


HEADER = (
    f"  {'command':<28} {'n':>3} {'median ms':>9} {'p99 ms':>9} {'block ms':>8} "
    f"{'lock ms':>8} {'+RSS MB':>7} {'child MB':>7}  targets"
)


def child(backend: str, n: int, url: str, repeat: int, out: Path) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="vimis-admin-bench-"))
    try:
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        result = asyncio.run(run_backend(backend, n, url, repeat, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    out.write_text(json.dumps(asdict(result), ensure_ascii=False), encoding="utf-8")
    return 0


def run_child(backend: str, n: int, url: str, repeat: int, timeout: float) -> RunResult | None:
    with tempfile.TemporaryDirectory(prefix="vimis-admin-result-") as tmp:
        out = Path(tmp) / "result.json"
        spec = json.dumps({"backend": backend, "n": n, "url": url, "repeat": repeat})
        command = [sys.executable, "-m", "bench.admin", "--child", spec, "--result-file", str(out)]
        try:
            subprocess.run(command, cwd=ROOT, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            print(f"  !! timed out after {timeout:.0f} s")
            return None
        if not out.exists():
            return None
        raw = json.loads(out.read_text(encoding="utf-8"))
        raw["measures"] = [Measure(**m) for m in raw["measures"]]
        return RunResult(**raw)


def samples(directory: Path) -> None:
    """What #14 asks to look at: an export of 217 approved requests with real-length names,
    and the /stats charts for 25 organisations sharing long prefixes over months of data."""
    from collections import Counter

    from bot import charts
    from services import export

    directory.mkdir(parents=True, exist_ok=True)
    orgs = admin_data.organizations()
    rng = random.Random(3)
    data = admin_data.build(217, orgs)
    rows = [
        (
            r["id"],
            *(
                r[k]
                for k in (
                    "snils",
                    "full_name",
                    "email",
                    "region",
                    "org_full_name",
                    "org_short_name",
                    "component",
                    "role",
                )
            ),
        )
        for r in data.requests
    ]
    files = export.write_files(rows, directory, "export_217")
    print(f"wrote {files.xlsx} and {files.csv} ({files.count} rows)")
    prefix = "Областное государственное бюджетное учреждение здравоохранения «Городская"
    named = [
        (f"{prefix} поликлиника № {i} города Костромы»", rng.randrange(3, 40)) for i in range(1, 26)
    ]
    named.sort(key=lambda item: -item[1])
    top, rest = named[:20], named[20:]
    png = charts.organizations_by_users(top, (len(rest), sum(n for _, n in rest)))
    (directory / "organizations_25.png").write_bytes(png)
    per_day: dict[date, Counter[str]] = {}
    for day in range(140):
        when = date(2026, 8, 1) + timedelta(days=day)
        per_day[when] = Counter(
            {
                "submitted": rng.randrange(0, 20),
                "approved": rng.randrange(0, 60),
                "rejected": rng.randrange(0, 8),
            }
        )
    (directory / "per_period_140_days.png").write_bytes(charts.requests_per_day(per_day))
    short = {d: c for d, c in per_day.items() if d < date(2026, 8, 25)}
    (directory / "per_period_24_days.png").write_bytes(charts.requests_per_day(short))
    print(f"wrote the charts to {directory}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.admin", description=__doc__)
    parser.add_argument("--sizes", default="10000,100000", help="values of N (10000,100000)")
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=DEFAULT_POSTGRES,
        metavar="URL",
        help="also on PostgreSQL; its public schema is DROPPED and recreated",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each heavy command (5)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per (backend, N)")
    parser.add_argument("--samples", type=Path, metavar="DIR", help="write files to look at")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        return child(
            spec["backend"], spec["n"], spec["url"], spec["repeat"], Path(args.result_file)
        )
    if args.samples:
        samples(args.samples)
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    backends = ([] if args.no_sqlite else ["sqlite"]) + (["postgres"] if args.postgres else [])
    print(f"code: {describe_code()}; python {sys.version.split()[0]}; cpus {os.cpu_count()}")
    failed = False
    for backend in backends:
        for n in sizes:
            print(f"\n{backend}, N = {n:,}", flush=True)
            print(HEADER, flush=True)
            result = run_child(backend, n, args.postgres or "", args.repeat, args.timeout)
            if result is None:
                failed = True
                continue
            print(f"  (data set loaded in {result.load_s:.0f} s, not measured)")
            for problem in result.problems:
                failed = True
                print(f"  !! {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
