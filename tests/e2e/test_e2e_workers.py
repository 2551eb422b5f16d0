"""Several worker processes in webhook mode on PostgreSQL + Redis against the stand-in, which
pushes each update to the worker the test names (as a proxy in front of them would): what must
happen once happens once, whichever worker gets the update. And the guards that keep a setup
that cannot share a database from starting twice."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import texts
from bot.texts import LOCAL_TZ
from db.database import Database
from db.models import RequestEvent, SupportThread
from services import outbox, requests, staff
from services.outbox import Kind
from tests.conftest import ROOT
from tests.e2e.standin import BotApiStandin, Json, SentRecord
from tests.e2e.support import BotProcess, Person, free_port, until
from tests.test_requests_service import NEW

ADMIN_A, ADMIN_B = 900001, 900002
ADMIN_CHAT = -1007770077
SUPPORT = -1009876543210
APPLICANT = 5550077

needs_postgres_and_redis = pytest.mark.skipif(
    not (
        os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")
        and os.environ.get("TEST_REDIS_URL")
    ),
    reason="several workers need PostgreSQL and Redis (TEST_DATABASE_URL, TEST_REDIS_URL)",
)


class Workers:
    """N `python -m bot` processes, each on its own port; updates go where `route` says."""

    def __init__(self, standin: BotApiStandin, env: dict[str, str], count: int) -> None:
        self.standin = standin
        self.ports = [free_port() for _ in range(count)]
        self.url = f"http://127.0.0.1:{self.ports[0]}/tg"
        self.to: dict[int, int] = {}  # update_id -> worker
        self.procs = [
            BotProcess(
                {
                    **env,
                    "WEBHOOK_URL": self.url,
                    "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
                    "WEBHOOK_SECRET": "workers-secret",
                }
            )
            for port in self.ports
        ]
        standin.route = self._route

    def _route(self, update: Json) -> str:
        worker = self.to.get(update["update_id"], update["update_id"] % len(self.ports))
        return f"http://127.0.0.1:{self.ports[worker]}/tg"

    async def start(self) -> None:
        for proc in self.procs:
            await proc.start(self.standin)

    async def stop(self) -> list[tuple[int, str]]:
        return [await proc.stop() for proc in self.procs]


@pytest.fixture
async def redis_env(bot_env: dict[str, str]) -> dict[str, str]:
    from redis.asyncio import Redis

    url = os.environ["TEST_REDIS_URL"]
    redis = Redis.from_url(url)
    await redis.flushdb()  # this suite's own Redis database: no dialogs from other tests
    await redis.aclose()
    return {**bot_env, "REDIS_URL": url}


def pushed_to(workers: Workers, update: Json, worker: int) -> None:
    workers.to[update["update_id"]] = worker


@needs_postgres_and_redis
@pytest.mark.parametrize("count", [2, 3])
async def test_what_must_happen_once_happens_once_across_workers(
    standin: BotApiStandin, redis_env: dict[str, str], db: Database, count: int
) -> None:
    standin.forum_chats.add(SUPPORT)
    today = datetime.now(LOCAL_TZ).date()
    env = {
        **redis_env,
        "ADMIN_IDS": f"{ADMIN_A},{ADMIN_B}",
        "ADMIN_CHAT_ID": str(ADMIN_CHAT),
        "SUPPORT_CHAT_ID": str(SUPPORT),
        "SUPPORT_HOURS": "00:00-23:59",
        "SUPPORT_DAYS": "1-7",
        "DEADLINE": (today + timedelta(days=3)).isoformat(),
        "REMINDER_CHECK_SECONDS": "1",
    }
    async with db.write() as session:
        await staff.bootstrap_admins(session, [ADMIN_A, ADMIN_B])
        result = await requests.submit(session, replace(NEW, account_id=APPLICANT + 1))
        assert isinstance(result, requests.Submitted)
        outbox.enqueue(
            session,
            ADMIN_CHAT,
            Kind.CARD_POST,
            request_id=result.request.id,
            user_id=APPLICANT + 1,
        )
    workers = Workers(standin, env, count)
    await workers.start()
    try:
        # Two people with unfinished requests: each is reminded once, by whichever worker.
        drafts = [Person(standin, APPLICANT + 10 + i) for i in range(2)]
        for i, person in enumerate(drafts):
            mark = len(standin.sent)
            pushed_to(workers, standin.push_message(person.user_id, "/new"), i % count)
            await person.expect(mark, "Согласие на обработку")

        # One applicant's two first questions at once, on two workers: one topic.
        me = Person(standin, APPLICANT)
        mark = len(standin.sent)
        pushed_to(workers, standin.push_message(APPLICANT, "/help", first_name="Мария"), 0)
        await me.expect(mark, "Возможно, ответ уже есть")
        first = standin.push_message(APPLICANT, "Вопрос раз", first_name="Мария")
        second = standin.push_message(APPLICANT, "Вопрос два", first_name="Мария")
        pushed_to(workers, first, count - 1)
        pushed_to(workers, second, count - 2)

        # Two admins press «Одобрить» at once, on two workers: one decision.
        card = await standin.wait_for_message(
            ADMIN_CHAT, lambda r: "Заявка № 1" in (r.text or ""), timeout=20
        )
        data = card.callback_data(texts.BTN_APPROVE)
        assert data is not None
        press_a = standin.push_callback(ADMIN_A, card.message_id, data, chat_id=ADMIN_CHAT)
        press_b = standin.push_callback(ADMIN_B, card.message_id, data, chat_id=ADMIN_CHAT)
        for i, press in enumerate((press_a, press_b)):
            update = next(
                u for u in standin.updates if u.get("callback_query", {}).get("id") == press
            )
            pushed_to(workers, update, i % count)

        def copies() -> list[SentRecord]:
            """What carried the two questions into the desk: two copies, or one message when
            the second was still queued as the first went (plain follow-ups are merged)."""
            return [r for r in standin.sent if r.chat_id == SUPPORT and "Вопрос" in (r.text or "")]

        def relayed_questions() -> list[str]:
            return [
                q for r in copies() for q in ("Вопрос раз", "Вопрос два") if q in (r.text or "")
            ]

        await until(lambda: sorted(relayed_questions()) == ["Вопрос два", "Вопрос раз"])
        await until(lambda: not standin.unanswered_callbacks())
        await until(
            lambda: any(
                "одобрена" in (r.text or "") for r in standin.sent if r.chat_id == APPLICANT + 1
            )
        )
        reminders = lambda: [r for r in standin.sent if "срока подачи заявок" in (r.text or "")]  # noqa: E731
        await until(lambda: len(reminders()) == 3)  # two drafts and the admin chat
        await asyncio.sleep(3)  # three more periods: nobody is reminded again
    finally:
        results = await workers.stop()
    for code, output in results:
        assert code == 0, output

    assert standin.errors == [], [(e.method, e.description) for e in standin.errors]
    topics = [c for c in standin.calls if c.method == "createForumTopic"]
    assert len(topics) == 1
    assert sorted(relayed_questions()) == ["Вопрос два", "Вопрос раз"]  # each once
    thread = topics and copies()[0].message_thread_id
    assert all(c.message_thread_id == thread for c in copies())
    async with db.read() as session:
        stored = await session.get(SupportThread, APPLICANT)
        approvals = await session.scalar(
            select(func.count()).select_from(RequestEvent).where(RequestEvent.action == "approved")
        )
    assert stored is not None and stored.topic_id == thread
    assert approvals == 1
    answers = [str((c.answer or {}).get("text") or "") for c in standin.callbacks.values()]
    assert sum(a.startswith("Решение уже принято") for a in answers) == 1
    notices = [r for r in standin.sent if r.chat_id == APPLICANT + 1]
    assert len(notices) == 1
    assert sorted(r.chat_id for r in reminders()) == sorted(
        [ADMIN_CHAT, *(p.user_id for p in drafts)]
    )
    started = {
        line for _, output in results for line in output.splitlines() if "bot started" in line
    }
    assert len(started) == count


@needs_postgres_and_redis
async def test_workers_started_by_one_command_share_one_port(
    standin: BotApiStandin, redis_env: dict[str, str]
) -> None:
    port = free_port()
    env = {
        **redis_env,
        "WORKERS": "2",
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/tg",
        "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
    }
    bot = BotProcess(env)
    await bot.start(standin)
    try:
        await until(lambda: sum(1 for c in standin.calls if c.method == "setWebhook") == 2)
        people = [Person(standin, APPLICANT + 100 + i) for i in range(20)]
        mark = len(standin.sent)
        for person in people:
            standin.push_message(person.user_id, "/start")
        for person in people:
            await person.expect(mark, "ВИМИС ОНКО")
    finally:
        code, output = await bot.stop()
    assert code == 0, output
    pids = {
        line.rsplit("pid ", 1)[1] for line in output.splitlines() if "bot started (webhook" in line
    }
    assert len(pids) == 2  # two processes listened on one port (SO_REUSEPORT)


async def refused(env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(60):
        output, _ = await proc.communicate()
    return proc.returncode or 0, output.decode(errors="replace").strip()


async def test_a_second_bot_on_one_database_is_refused_but_the_cli_works(
    standin: BotApiStandin, bot_env: dict[str, str], tmp_path: Path
) -> None:
    bot = BotProcess(bot_env)
    await bot.start(standin)
    try:
        code, output = await refused(bot_env)
        assert code == 2
        expected = (
            texts.ANOTHER_BOT_PROCESS
            if bot_env["DATABASE_URL"].startswith("postgresql")
            else texts.sqlite_busy(bot_env["DATABASE_URL"].split("///", 1)[1])
        )
        assert output == expected  # one clear line
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "export",
            "--all",
            "--out",
            str(tmp_path / "all.csv"),
            cwd=ROOT,
            env=bot_env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        async with asyncio.timeout(60):
            out, _ = await proc.communicate()
        assert proc.returncode == 0, out  # the command line works beside the running bot
    finally:
        code, output = await bot.stop()
    assert code == 0, output


async def test_several_workers_need_a_webhook_postgres_and_redis(bot_env: dict[str, str]) -> None:
    env = {**bot_env, "WORKERS": "2"}
    env.pop("REDIS_URL", None)
    assert await refused(env) == (2, texts.WORKERS_NEED_WEBHOOK)
    env["WEBHOOK_URL"] = "https://bot.example.ru/tg"
    expected = (
        texts.WORKERS_NEED_REDIS
        if env["DATABASE_URL"].startswith("postgresql")
        else texts.WORKERS_NEED_POSTGRES
    )
    assert await refused(env) == (2, expected)
