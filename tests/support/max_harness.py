"""The dialog harness for MAX: the real dispatcher with a MAX bot (``MaxSession`` over HTTP
against ``MaxApiStandin``, which refuses what MAX refuses) beside the Telegram harness's bot
(tests/support/harness.py) for the admins, one database, one outbox delivered to both messengers.

A person on MAX pushes MAX's own updates into the stand-in (``push_message``, ``press``,
``push_bot_started``); each is converted by ``UpdateConverter`` as the running bot converts
it and fed to the dispatcher with the MAX bot; then, as ``Harness.feed`` does, the background
work is drained and the outbox delivered through ``Bots(telegram, max)``.

Every Bot API call the handlers make on MAX goes through a recording middleware of the MAX
session, so a test sees each sent or edited message as the person sees it on MAX (the parts
MAX got, joined), each callback answer, and every call that raised (a refusal of the
stand-in, a method MAX cannot carry) even when a handler swallowed the error.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from sqlalchemy import select

from bot import background
from bot.config import Settings
from bot.dispatcher import build_dispatcher
from bot.max import make_max_bot
from bot.max.client import MaxClient
from bot.max.mids import MidStore
from bot.max.session import MaxSession
from bot.max.updates import UpdateConverter
from bot.messengers import Bots
from db.database import Database
from db.models import OutboxMessage
from services import staff
from services.accounts import Messenger, account_key, native_id
from services.role_matrix import RoleMatrix
from tests.e2e.max_standin import DEFAULT_TOKEN, MaxApiStandin, SentRecord
from tests.support.harness import Harness

Json = dict[str, Any]
_SHOWN = (SendMessage, EditMessageText, EditMessageReplyMarkup, SendDocument, SendPhoto)


@dataclass
class Shown:
    """One Bot API call that put or changed a message in a MAX chat: the records MAX made
    of it (one per part of a split text)."""

    method: str
    chat_key: int
    parts: list[SentRecord]

    @property
    def text(self) -> str:
        """The text the person reads: the parts' texts, one after the other."""
        return "\n".join((part.text or "").strip("\n") for part in self.parts)

    @property
    def buttons(self) -> list[str]:
        return [b for part in self.parts for b in part.buttons]

    @property
    def urls(self) -> list[str | None]:
        return [u for part in self.parts for u in part.urls]


@dataclass
class Failure:
    method: str
    error: str


@dataclass
class Recorder:
    """A request middleware of the MAX session (innermost: it sees each call once)."""

    mx: MaxApiStandin
    shown: list[Shown] = field(default_factory=list)
    answered: dict[str, str | None] = field(default_factory=dict)  # callback id → text
    failures: list[Failure] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    async def __call__(
        self,
        make_request: Callable[[Bot, TelegramMethod[Any]], Awaitable[Any]],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Any:
        self.calls.append(type(method).__name__)
        mark = len(self.mx.sent)
        try:
            result = await make_request(bot, method)
        except Exception as exc:
            self.failures.append(Failure(type(method).__name__, f"{type(exc).__name__}: {exc}"))
            raise
        if isinstance(method, AnswerCallbackQuery):
            self.answered[method.callback_query_id] = method.text
        elif isinstance(method, _SHOWN):
            key = int(method.chat_id or 0)
            chat = _max_chat(key)
            parts = [r for r in self.mx.sent[mark:] if r.chat_id == chat]
            self.shown.append(Shown(type(method).__name__, key, parts))
        return result


def _max_chat(key: int) -> int:
    """The stand-in's chat id of an account key (a person's dialog, or a group)."""
    return MaxApiStandin.dialog_chat_id(native_id(key)) if key > 0 else native_id(key)


class BothHarness(Harness):
    """The Telegram harness whose outbox goes out on both messengers."""

    max_bot: Bot | None = None

    async def deliver(self) -> int:
        bots = Bots(self.bot) if self.max_bot is None else Bots(self.bot, self.max_bot)
        return await self.delivery.drain(bots)


class MaxHarness:
    def __init__(self, tg: BothHarness, mx: MaxApiStandin, bot: Bot, mids: MidStore) -> None:
        self.tg = tg
        self.dp: Dispatcher = tg.dp
        self.db: Database = tg.dp["db"]
        self.mx = mx
        self.bot = bot
        self.mids = mids
        session = bot.session
        assert isinstance(session, MaxSession)
        self.session = session
        self.recorder = Recorder(mx)
        session.middleware(self.recorder)
        self.convert = UpdateConverter(mids, bot=bot)
        self.presses: list[str] = []  # callback ids of every press, by anyone

    async def connect(self) -> None:
        """As the running bot starts (bot/max/runner.py): GET /me, then it knows its id."""
        await self.bot.get_me()
        self.convert.bot_user_id = self.session.max_user_id

    def person(self, user_id: int = 1001, first_name: str = "Мария") -> MaxPerson:
        return MaxPerson(self, user_id, first_name)

    async def feed_raw(self, raw: Json) -> None:
        update = self.convert.convert(raw)
        assert update is not None, f"the converter dropped {raw.get('update_type')}"
        await self.dp.feed_update(self.bot, update)
        await background.drain(10)
        await self.tg.deliver()

    async def deliver(self) -> int:
        return await self.tg.deliver()

    # -- what a test asserts after each step ----------------------------------------------

    def unanswered(self) -> list[str]:
        return [c for c in self.presses if c not in self.recorder.answered]

    async def outbox_left(self, key: int) -> list[tuple[str, str, str | None]]:
        """Rows for this chat still in the outbox (delivered rows are deleted)."""
        async with self.db.read() as session:
            rows = await session.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == key))
            return [(r.kind, r.state, r.last_error) for r in rows]

    def problems(self) -> list[str]:
        """Everything MAX refused or would have changed, and every call that raised."""
        found = [
            f"refused {e.method} {e.path}: {e.code} {e.message}"
            for e in self.mx.errors
            # MAX still processing an uploaded file: the session waits and sends again.
            if e.code != "attachment.not.ready"
        ]
        found += [f"stripped <{tag}>" for tag in self.mx.stripped_tags]
        found += [f"raised in {f.method}: {f.error}" for f in self.recorder.failures]
        if self.mx.noop_edits:
            found.append(f"{self.mx.noop_edits} edit(s) that changed nothing")
        found += [f"press {c} not answered" for c in self.unanswered()]
        return found

    async def assert_clean(self, *keys: int) -> None:
        problems = self.problems()
        assert not problems, problems
        for key in keys:
            left = await self.outbox_left(key)
            assert not left, left
        assert not self.tg.session.refusals, self.tg.session.refusals


class MaxPerson:
    """Someone writing to the bot in their MAX dialog."""

    def __init__(self, h: MaxHarness, user_id: int, first_name: str) -> None:
        self.h = h
        self.user_id = user_id
        self.key = account_key(Messenger.MAX, user_id)
        self.chat_id = h.mx.introduce(user_id, first_name)
        self.presses: list[str] = []

    def _since(self, mark: int) -> list[Shown]:
        return [s for s in self.h.recorder.shown[mark:] if s.chat_key == self.key]

    def mark(self) -> int:
        return len(self.h.recorder.shown)

    def since(self, mark: int) -> list[Shown]:
        return self._since(mark)

    async def start(self, payload: str | None = None) -> list[Shown]:
        mark = self.mark()
        await self.h.feed_raw(self.h.mx.push_bot_started(self.user_id, payload))
        return self._since(mark)

    async def send(self, text: str) -> list[Shown]:
        mark = self.mark()
        await self.h.feed_raw(self.h.mx.push_message(self.user_id, text))
        return self._since(mark)

    async def send_photo(self) -> list[Shown]:
        mark = self.mark()
        await self.h.feed_raw(self.h.mx.push_message(self.user_id, photo=True))
        return self._since(mark)

    async def press(self, label: str) -> list[Shown]:
        mark = self.mark()
        callback = self.h.mx.press(self.user_id, label)
        self.presses.append(callback)
        self.h.presses.append(callback)
        await self.h.feed_raw(self.h.mx.updates[-1])
        return self._since(mark)

    def answer_text(self) -> str | None:
        """The text of the answer to this person's latest press (None: a silent answer)."""
        return self.h.recorder.answered.get(self.presses[-1])

    @property
    def last(self) -> Shown:
        mine = self._since(0)
        assert mine, "the bot has not written to this person"
        return mine[-1]

    def current(self, shown: Shown) -> str:
        """The text of a message as it is now (after later edits), parts joined."""
        texts = [
            (self.h.mx.messages[p.mid].text or "").strip("\n")
            for p in shown.parts
            if p.mid in self.h.mx.messages
        ]
        return "\n".join(texts)


def same_words(text: str) -> str:
    """A text with its blank runs made one space: MAX splits a long text at a line break,
    and each part loses the break at its edge."""
    return re.sub(r"\s+", " ", text).strip()


@asynccontextmanager
async def max_harness(
    db: Database, settings: Settings, role_matrix: RoleMatrix
) -> AsyncIterator[MaxHarness]:
    """A MaxHarness for `settings` (the admins on Telegram as `settings.admin_ids` say)."""
    async with db.write() as session:
        await staff.bootstrap_admins(session, settings.admin_ids)
    tg = BothHarness(build_dispatcher(settings, db, role_matrix))
    async with MaxApiStandin() as mx:
        client = MaxClient(DEFAULT_TOKEN, mx.url, timeout=5)
        mids = MidStore(db)
        bot = make_max_bot(client, mids)
        max_session = bot.session
        assert isinstance(max_session, MaxSession)
        max_session.ready_delays = (0.01,) * 5  # MAX processing an upload: no real pauses
        tg.max_bot = bot
        h = MaxHarness(tg, mx, bot, mids)
        try:
            await h.connect()
            yield h
        finally:
            await tg.dp.storage.close()
            await mids.close()
            await client.close()
