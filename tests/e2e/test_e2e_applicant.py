"""End to end: the real `python -m bot` process over HTTP against the Bot API stand-in."""

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
from tests.conftest import ROOT
from tests.e2e.standin import BotApiStandin, SentRecord

USER = 5550001
TOKEN = "42:E2E-token-0123456789abcdefghijklmnop"


class BotProcess:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, standin: BotApiStandin) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=ROOT,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        async with asyncio.timeout(60):
            while not standin.commands:
                if self.proc.returncode is not None:
                    output = await self.proc.stdout.read() if self.proc.stdout else b""
                    raise AssertionError(f"the bot exited: {output.decode(errors='replace')}")
                await asyncio.sleep(0.1)

    async def stop(self) -> tuple[int, str]:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            output, _ = await self.proc.communicate()
        return self.proc.returncode or 0, output.decode(errors="replace")


@pytest.fixture
async def standin() -> AsyncIterator[BotApiStandin]:
    async with BotApiStandin() as server:
        yield server


@pytest.fixture
def bot_env(standin: BotApiStandin, database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE_"))}
    env.update(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=standin.url,
        DATABASE_URL=database_url,
        SUPPORT_CHAT_ID="-1009876543210",
        ADMIN_IDS="900001",
        DEADLINE="2026-12-20",
        LOG_LEVEL="INFO",
    )
    env.pop("REDIS_URL", None)
    return env


class Applicant:
    def __init__(self, standin: BotApiStandin) -> None:
        self.standin = standin

    async def _expect(self, mark: int, contains: str) -> SentRecord:
        def fits(record: SentRecord) -> bool:
            return record.method in {"sendMessage", "editMessageText"} and contains in (
                record.text or ""
            )

        return await self.standin.wait_for_message(USER, fits, timeout=15, after=mark)

    async def says(self, text: str, expect: str) -> SentRecord:
        mark = len(self.standin.sent)
        self.standin.push_message(USER, text, first_name="Мария")
        return await self._expect(mark, expect)

    async def presses(self, button: str, expect: str) -> SentRecord:
        mark = len(self.standin.sent)
        self.standin.press(USER, button)
        return await self._expect(mark, expect)


async def test_applicant_from_start_to_a_submitted_request(
    standin: BotApiStandin, bot_env: dict[str, str], db: Database
) -> None:
    bot = BotProcess(bot_env)
    await bot.start(standin)
    try:
        commands = next(iter(standin.commands.values()))
        assert {c["command"] for c in commands} == {"start", "new", "my", "help", "cancel"}

        me = Applicant(standin)
        hello = await me.says("/start", "ВИМИС ОНКО")
        assert "до 20.12.2026" in (hello.text or "")
        await me.presses("📝 Подать заявку", "Согласие на обработку персональных данных")
        await me.presses("✅ Согласен(на)", "подтверждённая")
        esia = await me.presses("Да", "Первый вход в ЕСИА")
        assert any(
            b.get("url") == "https://ia.egisz.rosminzdrav.ru/"
            for row in (esia.reply_markup or {}).get("inline_keyboard", [])
            for b in row
        )
        await me.presses("✅ Готово", "СНИЛС")
        await me.says("112-233-445 96", "Контрольное число")
        await me.says("112 233 445 95", "фамилию, имя и отчество")
        await me.says("иванова мария петровна", "электронной почты")
        await me.says("ivanova@example.ru", "Субъект РФ")
        await me.presses("✅ Да, верно", "медицинскую организацию")
        await me.says("Клиника", "ничего не нашлось")
        await me.presses("Нет в списке", "полное наименование")
        await me.says("ООО «Клиника <Здоровье> & Ко»", "краткое наименование")
        await me.says("<Клиника & Ко>", "должность")
        await me.presses("Моей должности нет в списке", "Напишите вашу должность")
        summary = await me.says("Врач-онколог & <заведующий>", "Проверьте заявку")
        assert "ООО «Клиника <Здоровье> & Ко» (<Клиника & Ко>)" in (summary.text or "")
        assert "Врач-онколог & <заведующий>" in (summary.text or "")
        done = await me.presses("📨 Отправить", "отправлена")
        await me.says("/my", "на рассмотрении")
    finally:
        code, output = await bot.stop()

    assert code == 0, output
    assert "Start polling" in output  # the log was captured, so the checks below mean something
    assert standin.errors == [], [e.description for e in standin.errors]
    assert standin.unanswered_callbacks() == []
    for secret in ("112-233-445 95", "11223344595", "ivanova@example.ru", "Иванова"):
        assert secret not in output, f"personal data in the log: {secret}"

    async with db.read() as session:
        request = (await session.scalars(select(AccessRequest))).one()
    assert f"№ {request.id}" in (done.text or "")
    assert request.status == "submitted"
    assert request.org_full_name == "ООО «Клиника <Здоровье> & Ко»"
    assert request.org_short_name == "<Клиника & Ко>"
    assert request.org_manual and not request.position_in_matrix and request.role is None
