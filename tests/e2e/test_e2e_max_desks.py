"""End to end, МИАЦ's desks on MAX: the real `python -m bot` process with MAX_TOKEN alone (no
Telegram at all) against the MAX stand-in — the admins' group approves a MAX applicant's
request, the operators' group (no topics: a chain of replies) answers a question, and someone
who is not staff presses the card's buttons and types staff commands to no effect."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from db.database import Database
from db.models import AccessRequest
from services.accounts import Messenger, account_key
from services.organizations import import_rows, read_rows
from tests.conftest import ROOT, SAMPLE_ORGS
from tests.e2e.max_standin import MaxApiStandin
from tests.e2e.max_standin import SentRecord as MaxRecord
from tests.e2e.test_e2e_max import MAX_TOKEN, MaxPerson, walk_form_from_directory

ADMIN = 900001
STRANGER = 900999
APPLICANT = 5550100


class MaxOnlyBot:
    """`python -m bot` with MAX alone; up when MAX has its commands."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self.output = bytearray()
        self._reader: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        if self.proc is None or self.proc.stdout is None:
            return
        while chunk := await self.proc.stdout.read(65536):
            self.output += chunk

    async def start(self, mx: MaxApiStandin) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=ROOT,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())
        async with asyncio.timeout(60):
            while not mx.commands:
                if self.proc.returncode is not None:
                    await self._reader
                    raise AssertionError(f"the bot exited: {self.output.decode(errors='replace')}")
                await asyncio.sleep(0.05)

    async def stop(self) -> tuple[int, str]:
        if self.proc is None:
            return 0, ""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            await self.proc.wait()
            if self._reader is not None:
                await self._reader
        return self.proc.returncode or 0, self.output.decode(errors="replace")


@pytest.fixture
async def mx() -> AsyncIterator[MaxApiStandin]:
    async with MaxApiStandin(token=MAX_TOKEN) as server:
        yield server


def max_only_env(mx: MaxApiStandin, database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BOT_", "DATABASE_", "ADMIN_", "SUPPORT_", "MAX_", "REDIS_"))
    }
    env.update(
        MAX_TOKEN=MAX_TOKEN,
        MAX_API_URL=mx.url,
        MAX_TIMEOUT="5",
        DATABASE_URL=database_url,
        ADMIN_IDS=f"max:{ADMIN}",
        LOG_LEVEL="INFO",
        SUPPORT_HOURS="00:00-23:59",
        SUPPORT_DAYS="1-7",
        ERASURE_JOURNAL=str(tmp_path / "erasures.jsonl"),
    )
    return env


def in_chat(mx: MaxApiStandin, chat_id: int, contains: str, after: int = 0) -> MaxRecord:
    for record in mx.sent[after:]:
        if record.chat_id == chat_id and contains in (record.text or ""):
            return record
    raise AssertionError(f"nothing with {contains!r} in chat {chat_id}")


async def test_max_alone_admins_and_operators_desks_on_max(
    mx: MaxApiStandin, database_url: str, tmp_path: Path, db: Database
) -> None:
    async with db.write() as session:
        await import_rows(session, read_rows(SAMPLE_ORGS), "Костромская область")
    mx.introduce(ADMIN, "Админ")
    mx.introduce(STRANGER, "Посторонний")
    admins = mx.create_group("МИАЦ: заявки", members=[ADMIN, STRANGER])
    operators = mx.create_group("МИАЦ: поддержка", members=[ADMIN])
    env = max_only_env(mx, database_url, tmp_path)
    env.update(MAX_ADMIN_CHAT_ID=str(admins), MAX_SUPPORT_CHAT_ID=str(operators))
    bot = MaxOnlyBot(env)
    await bot.start(mx)
    try:
        me = MaxPerson(mx, APPLICANT)
        done = await walk_form_from_directory(me)
        card = await mx.wait_for_message(admins, lambda r: "Заявка №" in (r.text or ""), timeout=20)
        assert "Мессенджер: MAX" in (card.text or "")
        assert "✅ Одобрить" in card.buttons

        # Someone in the admins' group who is not staff: the press and the command do nothing.
        mark = len(mx.sent)
        mx.press(STRANGER, "✅ Одобрить", chat_id=admins)
        mx.push_message(STRANGER, "/queue", chat_id=admins)
        refused = await mx.wait_for_message(
            admins, lambda r: "Нет доступа" in (r.text or ""), timeout=20, after=mark
        )
        assert refused is not None
        await asyncio.sleep(1)
        async with db.read() as session:
            request = (await session.scalars(select(AccessRequest))).one()
        assert request.status == "submitted"

        # The admin approves in the MAX group; the applicant is told on MAX.
        mark = len(mx.sent)
        mx.press(ADMIN, "✅ Одобрить", chat_id=admins)
        told = await me.expect(mark, "одобрена")
        await mx.wait_for_message(
            admins, lambda r: "Одобрена" in (r.text or ""), timeout=20, after=mark
        )

        # A question: the operators' group has no topics — the header, the question under it.
        await me.says("/help", "вопрос")
        mark = len(mx.sent)
        mx.push_message(APPLICANT, "Когда придёт доступ & <что дальше>?")
        question = await mx.wait_for_message(
            operators, lambda r: "Когда придёт доступ" in (r.text or ""), timeout=20, after=mark
        )
        header = in_chat(mx, operators, "Смирнов Олег", mark)
        assert (
            question.link is not None and question.link.get("message", {}).get("mid") == header.mid
        )
        assert "Когда придёт доступ & <что дальше>?" in (question.text or "")

        # The operator answers by replying to the question: the applicant gets it on MAX.
        mark = len(mx.sent)
        mx.push_message(
            ADMIN, "Доступ откроет федеральный оператор.", chat_id=operators, reply_to=question.mid
        )
        answer = await me.expect(mark, "Доступ откроет федеральный оператор.")
        assert answer is not None
    finally:
        code, output = await bot.stop()
    assert code == 0, output
    assert mx.errors == [], [f"{e.method} {e.path}: {e.code} {e.message}" for e in mx.errors]
    assert mx.stripped_tags == []
    async with db.read() as session:
        request = (await session.scalars(select(AccessRequest))).one()
    assert request.status == "approved"
    assert request.account_id == account_key(Messenger.MAX, APPLICANT)
    assert f"№ {request.id}" in (done.text or "") and f"№ {request.id}" in (told.text or "")
    for secret in ("006-012-788 00", "oleg@example.ru", "Смирнов", "Когда придёт"):
        assert secret not in output, f"personal data in the log: {secret}"
