"""The real bot process, people talking to it through the Bot API stand-in, and the steps the
e2e tests share (the applicant's form, waiting for another process)."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass

from tests.conftest import ROOT
from tests.e2e.standin import BotApiStandin, SentRecord

TOKEN = "42:E2E-token-0123456789abcdefghijklmnop"
MAX_TOKEN = "max-e2e-token"
MESSAGE_METHODS = {"sendMessage", "editMessageText", "editMessageReplyMarkup"}
ADMIN = 900001  # the admin in ADMIN_IDS of the `bot_with_request` fixture
ADMIN_CHAT = -1007770001  # their group, ADMIN_CHAT_ID
APPLICANT = 5550002  # who submits the fixture's request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def until(condition: Callable[[], bool], seconds: float = 60) -> None:
    """Wait for what another process does (the bot's)."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - another process acts
            await asyncio.sleep(0.05)


class BotProcess:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self.output = bytearray()  # read as it comes: a full pipe would stop the bot
        self._reader: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while chunk := await self.proc.stdout.read(65536):
            self.output += chunk

    async def start(self, standin: BotApiStandin) -> None:
        """Start `python -m bot` and wait until it is up (it has set its commands: the last
        step of its start-up, also when it is started again)."""
        mark = sum(1 for call in standin.calls if call.method == "setMyCommands")
        await self.start_until(
            lambda: sum(1 for call in standin.calls if call.method == "setMyCommands") > mark
        )

    async def start_until(self, ready: Callable[[], bool]) -> None:
        """Start `python -m bot` and wait until `ready` (e.g. MAX alone: MAX has its commands)."""
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
            while not ready():
                if self.proc.returncode is not None:
                    await self._reader
                    raise AssertionError(f"the bot exited: {self.output.decode(errors='replace')}")
                await asyncio.sleep(0.1)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def stop(self) -> tuple[int, str]:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            await self.proc.wait()
            if self._reader is not None:
                await self._reader
        return self.proc.returncode or 0, self.output.decode(errors="replace")

    def kill(self) -> None:
        """As a crash would: no shutdown at all."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()


class Person:
    """Someone writing to the bot: in their private chat, or in a group (`chat_id`)."""

    def __init__(
        self,
        standin: BotApiStandin,
        user_id: int,
        name: str = "Мария",
        chat_id: int | None = None,
    ) -> None:
        self.standin = standin
        self.user_id = user_id
        self.name = name
        self.chat_id = chat_id if chat_id is not None else user_id
        standin.introduce(user_id, name)  # a press carries the name too, not only a message

    async def expect(self, mark: int, contains: str) -> SentRecord:
        def fits(record: SentRecord) -> bool:
            text = record.text or ""
            return record.method in MESSAGE_METHODS and contains in text

        return await self.standin.wait_for_message(self.chat_id, fits, timeout=15, after=mark)

    async def says(self, text: str, expect: str) -> SentRecord:
        mark = len(self.standin.sent)
        group = self.chat_id if self.chat_id != self.user_id else None
        self.standin.push_message(self.user_id, text, first_name=self.name, chat_id=group)
        return await self.expect(mark, expect)

    async def presses(self, button: str, expect: str) -> SentRecord:
        mark = len(self.standin.sent)
        self.press(button)
        return await self.expect(mark, expect)

    async def sees_button(self, mark: int, button: str) -> SentRecord:
        """Wait until a message sent after `mark` carries `button`: pressing before it
        arrives would press an older copy, or nothing."""
        return await self.standin.wait_for_message(
            self.chat_id, lambda r: button in r.buttons, timeout=15, after=mark
        )

    def press(self, button: str) -> str:
        group = self.chat_id if self.chat_id != self.user_id else None
        return self.standin.press(self.user_id, button, chat_id=group)


@dataclass(frozen=True)
class Form:
    """What an applicant answers, from /new to the summary; by default the directory's
    «Условный онкодиспансер №1» and a post of the role matrix."""

    snils: str = "006-012-788 00"
    name: str = "Смирнов Олег"
    email: str = "oleg@example.ru"
    search: str = "онкодиспансер"
    found: str = "найдено: 1"
    organization: str = "1. ОБРАЗЕЦ ОГБУЗ «Условный онкодиспансер №1»"
    post: str = "1. Сотрудник организационно-методического"
    after_post: str = "Подтвердите роль"
    role: str = "✅ Подтверждаю"


DIRECTORY_FORM = Form()


async def fill_form(me: Person, form: Form = DIRECTORY_FORM) -> SentRecord:
    """Walk the form from /new to the summary; returns the summary (not yet sent)."""
    await me.says("/new", "Согласие на обработку")
    await me.presses("✅ Согласен(на)", "подтверждённая")
    await me.presses("Да", "Вход на портал ЕГИСЗ через Госуслуги")
    await me.presses("✅ Готово", "СНИЛС")
    await me.says(form.snils, "фамилию, имя и отчество")
    await me.says(form.name, "электронной почты")
    await me.says(form.email, "Субъект РФ")
    await me.presses("✅ Да, верно", "медицинскую организацию")
    await me.says(form.search, form.found)
    await me.presses(form.organization, "должность")
    await me.presses(form.post, form.after_post)
    return await me.presses(form.role, "Проверьте заявку")
