"""Dialog throughput benchmark: N applicants walk the whole request dialog, concurrently,
through the real dispatcher (`bot.dispatcher.build_dispatcher`) with a fake in-process Bot API.

Variants (each (variant, N) runs in a fresh child process, so peak RSS, caches and the garbage
collector belong to that run alone):

- ``baseline``: aiogram's MemoryStorage (no FSM database work); the dialog's own database work
  (consent row, organisation search, submit) goes to a SQLite file in a temp directory;
- ``sqlite``: the bot's default `bot.fsm.storage.DatabaseStorage` on that SQLite file;
- ``postgres``: DatabaseStorage on PostgreSQL (``--postgres [URL]``; the schema is reset);
- ``redis``: aiogram's RedisStorage as the bot builds it for REDIS_URL (``--redis [URL]``),
  the rest of the database on SQLite;
- ``max``: as ``sqlite``, but on MAX's transport (bot/max/): every update arrives as MAX's update
  JSON and goes through `bot.max.updates.UpdateConverter`, every call of the bot goes through the
  real `bot.max.session.MaxSession` (HTML and keyboard conversion, MidStore on the same database)
  to an in-process fake of MAX's HTTP API (`FakeMaxClient`). Its CPU per update against
  ``sqlite``'s is the transport's own cost (target: at most 1.2×).

Run from the repository root: ``python -m bench.dialog --help``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import itertools
import json
import logging
import math
import os
import pstats
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncGenerator
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.methods import (
    EditMessageReplyMarkup,
    EditMessageText,
    SendMessage,
    TelegramMethod,
)
from aiogram.types import BotCommand, Chat, InlineKeyboardMarkup, Message, Update
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot import background, texts
from bot.config import Settings
from bot.dispatcher import build_dispatcher
from bot.max.client import MaxApiError, MaxClient
from bot.max.messages import MAX_BOT_ID, user_key
from bot.max.mids import MidStore
from bot.max.render import render_html
from bot.max.session import MaxSession
from bot.max.updates import UpdateConverter
from db.database import Database
from db.migrate import upgrade_to_head
from db.models import AccessRequest, FsmRecord, MaxMessage
from services.organizations import import_rows, read_rows
from services.role_matrix import load_role_matrix
from services.snils import check_number, format_snils

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_ORGS = ROOT / "data" / "organizations.sample.csv"
ROLE_MATRIX = ROOT / "role_matrix.yaml"
BOT_ID = 42
TOKEN = f"{BOT_ID}:TEST-token-0123456789abcdefghij"
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
VARIANTS = ("baseline", "sqlite", "postgres", "redis", "max")
# The variants whose FSM is DatabaseStorage: no FSM rows may be left after finished dialogs.
DATABASE_FSM = ("sqlite", "postgres", "max")
MAX_TARGET_RATIO = 1.2  # the MAX issue: CPU per update within 1.2x Telegram's (max vs sqlite)

# The dialog, as tests/support/dialog_steps.py walks it: (step name, kind, text or button label).
# "{snils}" and "{email}" are filled per applicant. A button is found by its text (or the
# beginning of it) in the keyboards the bot last left in the applicant's chat.
DIALOG: tuple[tuple[str, str, str], ...] = (
    ("/start", "send", "/start"),
    ("menu:new", "press", texts.BTN_NEW),
    ("consent", "press", texts.BTN_AGREE),
    ("gosuslugi", "press", texts.BTN_YES),
    ("esia", "press", texts.BTN_DONE),
    ("snils", "send", "{snils}"),
    ("full_name", "send", "иванова мария петровна"),
    ("email", "send", "{email}"),
    ("region", "press", texts.BTN_REGION_OK),
    ("org_search", "send", "ЦРБ"),
    ("org_pick", "press", "1. ОБРАЗЕЦ ОГБУЗ «Условная ЦРБ А»"),
    ("position", "press", "3. Главный врач"),
    ("role", "press", "Куратор 2 уровня"),
    ("submit", "press", texts.BTN_SUBMIT),
)


# --- a fast fake Bot API ----------------------------------------------------------------------

# (task, [seconds]): the simulated network time the measured update's own task spent in the fake
# Bot API; tasks the update spawns (the admin card) inherit the variable but are not that task.
API_WAIT: ContextVar[tuple[asyncio.Task[Any] | None, list[float]] | None] = ContextVar(
    "api_wait", default=None
)


async def round_trip(latency: float) -> None:
    """A simulated network round trip of a fake API call (`--api-latency`)."""
    started = time.perf_counter()
    await asyncio.sleep(latency)
    waiting = API_WAIT.get()
    if waiting is not None and waiting[0] is asyncio.current_task():
        # The round trip, and the timer's own lateness (epoll waits in whole milliseconds),
        # which a real response arriving on a socket would not have. Waiting longer than that
        # is waiting for the loop: the bot's latency.
        slept = time.perf_counter() - started
        waiting[1][0] += min(slept, latency + 0.001)


class FastSession(BaseSession):
    """Answers the Bot API in-process: a `Message` (incrementing ids, the given reply_markup)
    for sendMessage/editMessageText, True for everything else. For the chats of applicants in
    a dialog it keeps the messages that still carry an inline keyboard, which is what pressing
    a button needs; other chats (the admins' request cards) are not kept, so the bench's own
    memory does not grow with N."""

    def __init__(self, latency: float = 0.0) -> None:
        super().__init__()
        self.latency = latency  # simulated network round trip of every call, seconds
        self._ids = itertools.count(1)
        # chat id -> message id -> (text, keyboard); insertion order = order sent
        self.keyboards: dict[int, dict[int, tuple[str, InlineKeyboardMarkup]]] = {}
        self.watched: set[int] = set()
        self.calls = 0
        self.error_messages = 0  # texts.UNEXPECTED_ERROR sent by the bot's error handler

    async def close(self) -> None:
        return None

    def stream_content(self, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[Any],
        timeout: int | None = None,  # noqa: ASYNC109 (BaseSession's signature)
    ) -> Any:
        self.calls += 1
        if self.latency:
            await round_trip(self.latency)
        if isinstance(method, SendMessage):
            chat_id = int(method.chat_id)
            message_id = next(self._ids)
            if method.text == texts.UNEXPECTED_ERROR:
                self.error_messages += 1
            self._remember(chat_id, message_id, method.text, method.reply_markup)
            return self._message(chat_id, message_id, method.text, method.reply_markup)
        if isinstance(method, EditMessageText):
            chat_id, message_id = int(method.chat_id or 0), int(method.message_id or 0)
            self._remember(chat_id, message_id, method.text, method.reply_markup)
            return self._message(chat_id, message_id, method.text, method.reply_markup)
        if isinstance(method, EditMessageReplyMarkup):
            chat_id, message_id = int(method.chat_id or 0), int(method.message_id or 0)
            old = self.keyboards.get(chat_id, {}).get(message_id)
            self._remember(chat_id, message_id, old[0] if old else "", method.reply_markup)
        return True

    def _remember(self, chat_id: int, message_id: int, text: str, markup: Any) -> None:
        if chat_id not in self.watched:
            return
        if isinstance(markup, InlineKeyboardMarkup) and any(
            b.callback_data for row in markup.inline_keyboard for b in row
        ):
            self.keyboards.setdefault(chat_id, {})[message_id] = (text, markup)
        else:
            chat = self.keyboards.get(chat_id)
            if chat is not None:
                chat.pop(message_id, None)

    @staticmethod
    def _message(chat_id: int, message_id: int, text: str, markup: Any) -> Message:
        return Message(
            message_id=message_id,
            date=int(time.time()),
            chat=Chat(id=chat_id, type="private" if chat_id > 0 else "supergroup"),
            text=text,
            reply_markup=markup if isinstance(markup, InlineKeyboardMarkup) else None,
        )

    def find_button(self, chat_id: int, label: str) -> tuple[int, str, InlineKeyboardMarkup, str]:
        chat = self.keyboards.get(chat_id, {})
        for message_id in reversed(chat):
            body, markup = chat[message_id]
            for row in markup.inline_keyboard:
                for button in row:
                    if button.callback_data and button.text.startswith(label):
                        return message_id, body, markup, button.callback_data
        shown = [[b.text for r in m.inline_keyboard for b in r] for _t, m in chat.values()]
        raise LookupError(f"no button {label!r} in chat {chat_id}; keyboards: {shown}")

    def watch(self, chat_id: int) -> None:
        self.watched.add(chat_id)

    def forget(self, chat_id: int) -> None:
        self.watched.discard(chat_id)
        self.keyboards.pop(chat_id, None)


# --- a fast fake MAX API ----------------------------------------------------------------------

Json = dict[str, Any]
MAX_BOT_USER_ID = 277_000_042  # MAX's own user id of the bot (GET /me), as the stand-in's
MAX_DIALOG_CHAT_BASE = 400_000_000_000  # a person's dialog: its own chat id, not the user id


def max_mid(chat_id: int, seq: int) -> str:
    """A ``mid`` shaped as MAX builds it (tests/e2e/max_standin.py's make_mid)."""
    return f"mid.{chat_id % 2**64:016x}{seq:016x}"


class FakeMaxClient(MaxClient):
    """Answers MAX's HTTP API in-process, with the interface of bot.max.client.MaxClient and
    MAX-shaped JSON: ``POST /messages`` → ``{"message": {recipient, timestamp, body: {mid,
    seq, text, attachments}, sender}}`` (the keyboard echoed back, as MAX does), ``PUT`` and
    ``DELETE /messages``, ``POST /answers``, ``PATCH /me/commands`` and chat actions →
    ``{"success": true}``, ``GET /me`` → the bot's user; any other call a 404. No network, no
    JSON encoding: what `MaxSession` costs on top of this is the transport's own CPU. As
    `FastSession`, it keeps the messages with a callback keyboard in the watched applicants'
    dialogs (by MAX user id), for pressing their buttons."""

    def __init__(self, latency: float = 0.0, error_text: str = "") -> None:
        super().__init__("fake-max-token", "http://max.invalid")
        self.latency = latency
        self.error_text = error_text  # texts.UNEXPECTED_ERROR as MaxSession renders it
        self._seqs = itertools.count(1)
        # MAX user id -> mid -> message JSON; insertion order = order sent
        self.keyboards: dict[int, dict[str, Json]] = {}
        self.watched: set[int] = set()
        self.calls = 0
        self.posted = 0  # messages the bot sent (each one mid the MidStore must keep)
        self.error_messages = 0

    @staticmethod
    def dialog_chat_id(user_id: int) -> int:
        return MAX_DIALOG_CHAT_BASE + user_id

    @staticmethod
    def bot_user() -> Json:
        return {
            "user_id": MAX_BOT_USER_ID,
            "first_name": "ВИМИС",
            "username": "vimis_test_bot",
            "is_bot": True,
            "last_activity_time": int(time.time() * 1000),
            "name": "ВИМИС",
        }

    def new_message(self, chat_id: int, user_id: int | None, sender: Json, body: Json) -> Json:
        """A stored message's JSON: ``user_id`` is the other side of a dialog (None in a group)."""
        seq = next(self._seqs)
        recipient: Json = {"chat_id": chat_id, "chat_type": "chat"}
        if user_id is not None:
            recipient.update(chat_type="dialog", user_id=user_id)
        out: Json = {"mid": max_mid(chat_id, seq), "seq": seq, "text": body.get("text")}
        if body.get("attachments"):
            out["attachments"] = body["attachments"]
        return {
            "recipient": recipient,
            "timestamp": int(time.time() * 1000),
            "body": out,
            "sender": sender,
        }

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        timeout: float | None = None,  # noqa: ASYNC109 - MaxClient's signature
    ) -> Any:
        self.calls += 1
        if self.latency:
            await round_trip(self.latency)
        params = params or {}
        if method == "POST" and path == "/messages":
            return {"message": self._post(params, json or {})}
        if method == "PUT" and path == "/messages":
            self._edit(str(params["message_id"]), json or {})
            return {"success": True}
        if method == "DELETE" and path == "/messages":
            self._drop(str(params["message_id"]))
            return {"success": True}
        if method == "GET" and path == "/me":
            return self.bot_user()
        if (method, path) in (("POST", "/answers"), ("PATCH", "/me/commands")) or (
            method == "POST" and path.startswith("/chats/") and path.endswith("/actions")
        ):
            return {"success": True}
        raise MaxApiError(404, "not.found", f"the fake has no {method} {path}")

    async def upload(
        self,
        url: str,
        content: bytes,
        filename: str,
        content_type: str = "application/octet-stream",
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - MaxClient's signature
    ) -> Any:
        return {"token": f"token-{next(self._seqs)}"}

    async def close(self) -> None:
        return None

    def _post(self, params: dict[str, Any], body: Json) -> Json:
        self.posted += 1
        if body.get("text") == self.error_text:
            self.error_messages += 1
        user_id = params.get("user_id")
        if user_id is not None:
            user_id = int(user_id)
            chat_id = self.dialog_chat_id(user_id)
        else:
            chat_id = int(params["chat_id"])
        message = self.new_message(chat_id, user_id, self.bot_user(), body)
        if user_id in self.watched and self._has_callbacks(message["body"]):
            self.keyboards.setdefault(user_id, {})[message["body"]["mid"]] = message
        return message

    def _edit(self, mid: str, body: Json) -> None:
        chat_id, seq = int(mid[4:20], 16), int(mid[20:], 16)  # as max_mid built it
        user_id = chat_id - MAX_DIALOG_CHAT_BASE
        if user_id not in self.watched:
            return
        chat = self.keyboards.setdefault(user_id, {})
        message = chat.get(mid) or {
            "recipient": {"chat_id": chat_id, "chat_type": "dialog", "user_id": user_id},
            "timestamp": int(time.time() * 1000),
            "body": {"mid": mid, "seq": seq, "text": ""},
            "sender": self.bot_user(),
        }
        # A missing text keeps the text; attachments (even []) replace the keyboard.
        edited = dict(message["body"])
        if body.get("text") is not None:
            edited["text"] = body["text"]
        if "attachments" in body:
            edited["attachments"] = body["attachments"]
        if self._has_callbacks(edited):
            chat[mid] = {**message, "body": edited}
        else:
            chat.pop(mid, None)

    def _drop(self, mid: str) -> None:
        user_id = int(mid[4:20], 16) - MAX_DIALOG_CHAT_BASE
        self.keyboards.get(user_id, {}).pop(mid, None)

    @staticmethod
    def _has_callbacks(body: Json) -> bool:
        return any(
            button.get("type") == "callback"
            for attachment in body.get("attachments") or []
            if attachment.get("type") == "inline_keyboard"
            for row in attachment["payload"]["buttons"]
            for button in row
        )

    def find_button(self, user_id: int, label: str) -> tuple[Json, str]:
        """The newest kept message with a callback button whose text starts with ``label``,
        and the button's payload."""
        chat = self.keyboards.get(user_id, {})
        for message in reversed(chat.values()):
            for attachment in message["body"].get("attachments") or []:
                if attachment.get("type") != "inline_keyboard":
                    continue
                for row in attachment["payload"]["buttons"]:
                    for button in row:
                        if button.get("type") == "callback" and button["text"].startswith(label):
                            return message, str(button["payload"])
        shown = [
            [
                b["text"]
                for a in m["body"].get("attachments") or []
                for r in a["payload"]["buttons"]
                for b in r
            ]
            for m in chat.values()
        ]
        raise LookupError(f"no button {label!r} in MAX dialog {user_id}; keyboards: {shown}")

    def watch(self, user_id: int) -> None:
        self.watched.add(user_id)

    def forget(self, user_id: int) -> None:
        self.watched.discard(user_id)
        self.keyboards.pop(user_id, None)


# --- applicants -------------------------------------------------------------------------------


def applicant_snils(user_id: int) -> str:
    """A valid SNILS, distinct for up to 8·10⁸ consecutive user ids (above 001-001-998, so the
    checksum is checked)."""
    first_nine = f"{100_000_000 + user_id % 800_000_000:09d}"
    return format_snils(f"{first_nine}{check_number(first_nine):02d}")


def applicant_email(user_id: int) -> str:
    return f"applicant{user_id}@example.ru"


class Updates:
    """Builds `Update` objects the way polling does: validated with the bot in the context,
    so `feed_update` does not re-mount them (a JSON round trip)."""

    def __init__(self, bot: Bot, session: FastSession) -> None:
        self.bot = bot
        self.session = session
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._query_ids = itertools.count(1)

    @staticmethod
    def _user(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": "Мария", "language_code": "ru"}

    def message(self, user_id: int, body: str) -> Update:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "Мария"},
            "from": self._user(user_id),
            "text": body,
        }
        if body.startswith("/"):
            length = len(body.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        raw = {"update_id": next(self._update_ids), "message": message}
        return Update.model_validate(raw, context={"bot": self.bot})

    def press(self, user_id: int, label: str) -> Update:
        message_id, body, markup, data = self.session.find_button(user_id, label)
        raw = {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": f"q{next(self._query_ids)}",
                "from": self._user(user_id),
                "chat_instance": "ci",
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": {"id": user_id, "type": "private", "first_name": "Мария"},
                    "from": {"id": BOT_ID, "is_bot": True, "first_name": "ВИМИС"},
                    "text": body,
                    "reply_markup": markup.model_dump(exclude_none=True),
                },
            },
        }
        return Update.model_validate(raw, context={"bot": self.bot})


@dataclass
class Measured:
    latencies: list[list[float]] = field(default_factory=lambda: [[] for _ in DIALOG])
    failures: list[str] = field(default_factory=list)
    wall: float = 0.0


class Source(Protocol):
    """Where an applicant's updates come from and go to: `message`/`press` build the next
    update (unmeasured), `feed` hands it to the dispatcher (measured)."""

    def message(self, user_id: int, body: str) -> Any: ...

    def press(self, user_id: int, label: str) -> Any: ...

    async def feed(self, update: Any) -> None: ...

    def watch(self, user_id: int) -> None: ...

    def forget(self, user_id: int) -> None: ...


class TelegramSource:
    """Telegram's updates (`Updates`) to the dispatcher, the answers from `FastSession`."""

    def __init__(self, dp: Dispatcher, bot: Bot, session: FastSession) -> None:
        self.dp, self.bot, self.session = dp, bot, session
        self.updates = Updates(bot, session)
        self.message = self.updates.message
        self.press = self.updates.press
        self.watch = session.watch
        self.forget = session.forget

    async def feed(self, update: Update) -> None:
        await self.dp.feed_update(self.bot, update)


class MaxSource:
    """MAX's update JSON, shaped as tests/e2e/max_standin.py's push_bot_started (for
    «/start»: the person presses Start), push_message and push_callback. `feed` converts it
    with the real UpdateConverter (which also remembers the person's message's mid), as
    polling and the webhook do, and feeds the Update; so the conversion is measured."""

    def __init__(
        self, dp: Dispatcher, bot: Bot, client: FakeMaxClient, converter: UpdateConverter
    ) -> None:
        self.dp, self.bot, self.client, self.converter = dp, bot, client, converter
        self._callbacks = itertools.count(1)
        self.user_messages = 0  # messages with a mid the person sent (the MidStore keeps them)
        self.watch = client.watch
        self.forget = client.forget

    @staticmethod
    def user(user_id: int) -> Json:
        return {
            "user_id": user_id,
            "first_name": "Мария",
            "last_name": "",
            "is_bot": False,
            "last_activity_time": int(time.time() * 1000),
            "name": "Мария",
        }

    def message(self, user_id: int, body: str) -> Json:
        now = int(time.time() * 1000)
        chat_id = self.client.dialog_chat_id(user_id)
        if body == "/start":
            return {
                "timestamp": now,
                "chat_id": chat_id,
                "user": self.user(user_id),
                "user_locale": "ru",
                "user_id": user_id,
                "update_type": "bot_started",
            }
        self.user_messages += 1
        message = self.client.new_message(
            chat_id, MAX_BOT_USER_ID, self.user(user_id), {"text": body}
        )
        return {
            "message": message,
            "timestamp": now,
            "user_locale": "ru",
            "update_type": "message_created",
        }

    def press(self, user_id: int, label: str) -> Json:
        message, payload = self.client.find_button(user_id, label)
        now = int(time.time() * 1000)
        return {
            "callback": {
                "timestamp": now,
                "callback_id": f"cb{next(self._callbacks)}",
                "user": self.user(user_id),
                "payload": payload,
            },
            "message": message,
            "timestamp": now,
            "user_locale": "ru",
            "update_type": "message_callback",
        }

    async def feed(self, update: Json) -> None:
        converted = self.converter.convert(update)
        if converted is None:
            raise ValueError(f"UpdateConverter dropped a {update['update_type']} update")
        await self.dp.feed_update(self.bot, converted)


async def run_dialogs(
    source: Source,
    user_ids: range,
    concurrency: int,
    measured: Measured,
    think: float = 0.0,
) -> None:
    """Every applicant is a task; its updates go one after another; at most `concurrency`
    applicants are in a dialog at once."""
    gate = asyncio.Semaphore(concurrency)
    pauses = random.Random(user_ids.start)
    base = user_ids.start

    async def applicant(user_id: int) -> None:
        index = user_id - base
        values = {"snils": applicant_snils(user_id), "email": applicant_email(user_id)}
        async with gate:
            step = "?"
            source.watch(user_id)
            try:
                for position, (name, kind, arg) in enumerate(DIALOG):
                    step = name
                    if kind == "send":
                        update = source.message(user_id, arg.format(**values))
                    else:
                        update = source.press(user_id, arg)
                    if think:
                        # A person reads and types. Random pauses (exponential, mean
                        # `think`) spread the applicants' answers in time, as real arrivals
                        # are; equal pauses would keep all of them in step, answering in
                        # waves of `concurrency` updates at once.
                        await asyncio.sleep(pauses.expovariate(1 / think))
                    network = [0.0]
                    token = API_WAIT.set((asyncio.current_task(), network))
                    started = time.perf_counter()
                    await source.feed(update)
                    elapsed = time.perf_counter() - started - network[0]
                    API_WAIT.reset(token)
                    measured.latencies[position].append(elapsed)
            except Exception as exc:
                measured.failures.append(f"applicant {index} at {step}: {exc!r}"[:500])
            finally:
                source.forget(user_id)

    started = time.perf_counter()
    await asyncio.gather(*(applicant(user_id) for user_id in user_ids))
    measured.wall = time.perf_counter() - started


# --- one run (in a child process) -------------------------------------------------------------


@dataclass
class Spec:
    variant: str
    n: int
    concurrency: int = 100
    think: float = 0.0
    api_latency: float = 0.0
    warmup: int = 1
    tmpdir: str | None = None
    postgres: str = DEFAULT_POSTGRES
    redis: str = DEFAULT_REDIS
    profile: bool = False
    profile_top: int = 30
    cpus: list[int] | None = None
    log_level: str = "WARNING"
    switch_interval: float | None = None


@dataclass
class Result:
    variant: str
    n: int
    updates: int = 0
    wall_s: float = 0.0
    updates_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    rss_setup_mb: float = 0.0
    peak_rss_mb: float = 0.0
    cpu_percent: float = 0.0  # process CPU time (all threads) / wall time of the measured part
    cpu_s: float = 0.0  # process CPU time (all threads) of the measured part, seconds
    diagnostics: list[str] = field(default_factory=list)  # DB pools and event-loop lag
    submitted: int = 0
    ok: bool = False
    problems: list[str] = field(default_factory=list)
    steps: dict[str, tuple[float, float]] = field(default_factory=dict)  # step -> (p50, p99)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class EngineProbe:
    """Per engine: connections opened, pool checkouts and how long connections were held
    (for SQLite's single writer connection, held time / wall time is how busy the writer is)."""

    def __init__(self, db: Database) -> None:
        self.engines = {"write": db.write_engine}
        if db.read_engine is not db.write_engine:
            self.engines["read"] = db.read_engine
        self.connects = dict.fromkeys(self.engines, 0)
        self.checkouts = dict.fromkeys(self.engines, 0)
        self.held = dict.fromkeys(self.engines, 0.0)
        self._since: dict[int, float] = {}
        for name, engine in self.engines.items():
            pool = engine.sync_engine.pool
            event.listen(pool, "connect", self._on_connect(name))
            event.listen(pool, "checkout", self._on_checkout(name))
            event.listen(pool, "checkin", self._on_checkin(name))

    def _on_connect(self, name: str) -> Any:
        def on_connect(*_args: Any) -> None:
            self.connects[name] += 1

        return on_connect

    def _on_checkout(self, name: str) -> Any:
        def on_checkout(_dbapi: Any, record: Any, _proxy: Any) -> None:
            self.checkouts[name] += 1
            self._since[id(record)] = time.perf_counter()

        return on_checkout

    def _on_checkin(self, name: str) -> Any:
        def on_checkin(_dbapi: Any, record: Any) -> None:
            since = self._since.pop(id(record), None)
            if since is not None:
                self.held[name] += time.perf_counter() - since

        return on_checkin

    def reset(self) -> None:
        for name in self.engines:
            self.connects[name] = self.checkouts[name] = 0
            self.held[name] = 0.0

    def summary(self, wall: float) -> list[str]:
        lines = []
        for name in self.engines:
            count = self.checkouts[name]
            mean = 1000 * self.held[name] / count if count else 0.0
            busy = 100 * self.held[name] / wall if wall else 0.0
            lines.append(
                f"{name} pool: {count} checkouts, held {mean:.1f} ms each on average, "
                f"held/wall {busy:.0f}%, {self.connects[name]} new connections"
            )
        return lines


class LoopLag:
    """How late a 5 ms sleep wakes up: roughly the time any awaited I/O completion (a database
    round trip, say) waits for its turn on the busy event loop."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.005)
            self.samples.append(time.perf_counter() - started - 0.005)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def summary(self) -> str:
        ordered = sorted(self.samples)
        if not ordered:
            # Nothing in the run waited for I/O, so the loop never came back to this task:
            # the updates ran one after another.
            return "event-loop lag: no samples (no update ever waited, so the loop was never free)"
        return (
            f"event-loop lag: p50 {percentile(ordered, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(ordered, 0.99) * 1000:.1f} ms ({len(ordered)} samples)"
        )


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def reset_postgres(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


async def bootstrap_admins(db: Database, settings: Settings) -> None:
    """As `bot.app.run_bot` does at start: ADMIN_IDS become admins, so each submitted request
    posts its card to them (older code without staff has nothing to do here)."""
    try:
        from services import staff
    except ImportError:
        return
    bootstrap = getattr(staff, "bootstrap_admins", None)
    if bootstrap is not None:
        async with db.write() as session:
            await bootstrap(session, settings.admin_ids)


def make_settings(database_url: str, redis_url: str | None) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        bot_token=TOKEN,
        database_url=database_url,
        redis_url=redis_url,  # explicit: a REDIS_URL in the environment must not leak in
        admin_ids=[1],
        support_chat_id=-100123,
    )


async def run_variant(spec: Spec) -> Result:
    result = Result(spec.variant, spec.n)
    measured = Measured()
    cpu_used = 0.0
    workdir = Path(tempfile.mkdtemp(prefix="vimis-bench-", dir=spec.tmpdir))
    try:
        if spec.variant == "postgres":
            database_url = spec.postgres
            await reset_postgres(database_url)
        else:
            database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        redis_url = spec.redis if spec.variant == "redis" else None
        settings = make_settings(database_url, redis_url)
        db = Database(settings.database_url)
        await upgrade_to_head(db)
        async with db.write() as session:
            await import_rows(session, read_rows(SAMPLE_ORGS), settings.region_name)
        await bootstrap_admins(db, settings)
        await db.warm_up()  # as bot.app.run_bot does
        matrix = load_role_matrix(ROLE_MATRIX)
        probe = EngineProbe(db)
        storage = MemoryStorage() if spec.variant == "baseline" else None
        dp = build_dispatcher(settings, db, matrix, storage=storage)
        defaults = DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True)
        source: Source
        fake: FastSession | FakeMaxClient
        max_source: MaxSource | None = None
        mids: MidStore | None = None
        if spec.variant == "max":
            fake = FakeMaxClient(spec.api_latency, render_html(texts.UNEXPECTED_ERROR)[0])
            mids = MidStore(db)
            max_session = MaxSession(fake, mids)
            # As bot.max.make_max_bot builds it, less DirectReplyRetry (FastSession has none
            # either: the middleware is the same on both messengers, not the transport's).
            bot = Bot(f"{MAX_BOT_ID}:max", session=max_session, default=defaults)
            converter = UpdateConverter(mids, bot=bot)
            # As bot/max/runner.py connects: GET /me tells the converter the bot's own user.
            await bot.get_me()
            converter.bot_user_id = max_session.max_user_id
            await bot.set_my_commands(
                [BotCommand(command=n, description=t) for n, t in texts.COMMANDS.items()]
            )
            source = max_source = MaxSource(dp, bot, fake, converter)
        else:
            fake = FastSession(spec.api_latency)
            bot = Bot(TOKEN, session=fake, default=defaults)
            source = TelegramSource(dp, bot, fake)
        # Distinct user ids per run: Redis keeps its keys between runs.
        base = 10**12 + (time.time_ns() // 10**6 % 10**6) * 10**5
        try:
            if spec.warmup:
                warm = Measured()
                await run_dialogs(source, range(base - spec.warmup, base), 100, warm)
                result.problems += [f"warm-up: {f}" for f in warm.failures[:5]]
            gc.collect()
            gc.freeze()  # as the bot does after start-up
            result.rss_setup_mb = peak_rss_mb()
            probe.reset()
            lag = LoopLag()
            errors_before = fake.error_messages
            cpu_before = cpu_seconds()
            profiler = cProfile.Profile() if spec.profile else None
            if profiler is not None:
                profiler.enable()
            lag.start()
            await run_dialogs(
                source, range(base, base + spec.n), spec.concurrency, measured, spec.think
            )
            await lag.stop()
            # Work a handler started after answering must end before the database goes
            # (as at the bot's shutdown); the cards themselves wait in the outbox.
            if not await background.drain(60):
                result.problems.append("background work still running after 60 s")
            if mids is not None:
                await mids.close()  # the last mids buffered: the transport's work, measured
            if profiler is not None:
                profiler.disable()
            cpu_used = cpu_seconds() - cpu_before
            result.cpu_s = cpu_used
            result.diagnostics = [*probe.summary(measured.wall), lag.summary()]
            if profiler is not None:
                print_profile(profiler, spec)
            result.peak_rss_mb = peak_rss_mb()
            result.problems += measured.failures[:10]
            if len(measured.failures) > 10:
                result.problems.append(f"... {len(measured.failures)} failed applicants in all")
            if fake.error_messages != errors_before:
                result.problems.append(
                    f"the bot's error handler fired {fake.error_messages - errors_before} times"
                )
        finally:
            await dp.storage.close()
        # The measured applicants' account keys (a MAX user's key is its id moved past 2^53).
        first = user_key(base) if spec.variant == "max" else base
        async with db.read() as session:
            result.submitted = int(
                await session.scalar(
                    select(func.count())
                    .select_from(AccessRequest)
                    .where(
                        AccessRequest.status == "submitted",
                        AccessRequest.account_id >= first,
                        AccessRequest.account_id < first + spec.n,
                    )
                )
                or 0
            )
            if max_source is not None and isinstance(fake, FakeMaxClient):
                # Every mid MAX gave out (the bot's messages, the applicants' own) is kept.
                kept = int(await session.scalar(select(func.count()).select_from(MaxMessage)) or 0)
                expected = fake.posted + max_source.user_messages
                if kept != expected:
                    result.problems.append(f"{kept} mids in max_messages, expected {expected}")
            if spec.variant in DATABASE_FSM:
                left = int(await session.scalar(select(func.count()).select_from(FsmRecord)) or 0)
                if left:
                    result.problems.append(f"{left} FSM rows left after finished dialogs")
        await db.dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    if result.submitted != spec.n:
        result.problems.append(
            f"expected {spec.n} submitted requests in access_requests, found {result.submitted}"
        )
    every = sorted(x for step in measured.latencies for x in step)
    result.updates = len(every)
    result.wall_s = measured.wall
    result.updates_per_s = result.updates / measured.wall if measured.wall else 0.0
    result.cpu_percent = 100 * cpu_used / measured.wall if measured.wall else 0.0
    result.p50_ms = percentile(every, 0.50) * 1000
    result.p99_ms = percentile(every, 0.99) * 1000
    result.max_ms = (every[-1] if every else 0.0) * 1000
    for (name, _kind, _arg), values in zip(DIALOG, measured.latencies, strict=True):
        ordered = sorted(values)
        result.steps[name] = (percentile(ordered, 0.5) * 1000, percentile(ordered, 0.99) * 1000)
    result.ok = not result.problems and result.updates == spec.n * len(DIALOG)
    return result


def print_profile(profiler: cProfile.Profile, spec: Spec) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats(pstats.SortKey.CUMULATIVE)
    out.write(f"\n=== cProfile: {spec.variant}, N={spec.n}, sorted by cumulative time ===\n")
    stats.print_stats(spec.profile_top)
    out.write("\n=== the project's own code (bot/, db/, services/), by cumulative time ===\n")
    project = f"{ROOT}/(bot|db|services)/"
    stats.print_stats(project, spec.profile_top)
    if spec.variant == "max":
        out.write("\n=== MAX's transport (bot/max/), by cumulative time ===\n")
        stats.print_stats(f"{ROOT}/bot/max/", spec.profile_top)
        stats.sort_stats(pstats.SortKey.TIME)
        out.write("\n=== MAX's transport (bot/max/), by own (tottime) ===\n")
        stats.print_stats(f"{ROOT}/bot/max/", spec.profile_top)
    stats.sort_stats(pstats.SortKey.TIME)
    out.write(f"\n=== cProfile: {spec.variant}, N={spec.n}, sorted by own (tottime) ===\n")
    stats.print_stats(spec.profile_top)
    print(out.getvalue(), flush=True)


def child_main(spec: Spec, result_path: Path) -> int:
    logging.basicConfig(
        level=spec.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if spec.cpus:
        os.sched_setaffinity(0, set(spec.cpus))
    if spec.switch_interval:
        sys.setswitchinterval(spec.switch_interval)
    result = asyncio.run(run_variant(spec))
    import bot.dispatcher

    loaded_from = Path(bot.dispatcher.__file__).resolve()
    if not loaded_from.is_relative_to(ROOT):
        result.problems.append(f"bot code loaded from {loaded_from}, not from {ROOT}")
        result.ok = False
    result_path.write_text(json.dumps(asdict(result), ensure_ascii=False), encoding="utf-8")
    return 0


# --- the orchestrating parent -----------------------------------------------------------------


SNAPSHOT_DIRS = ("bot", "db", "services", "bench")
SNAPSHOT_FILES = ("role_matrix.yaml", "alembic.ini", "data/organizations.sample.csv")


def describe_code() -> str:
    """The git revision and the uncommitted changes of the measured code (read-only git)."""
    paths = [*SNAPSHOT_DIRS, "role_matrix.yaml"]
    try:
        rev = subprocess.run(
            ["git", "--no-optional-locks", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--", *paths],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown revision (no git)"
    changed = [line[3:] for line in status if not line[3:].startswith("bench/")]
    return rev + (f" + uncommitted: {', '.join(changed)}" if changed else " (clean)")


def make_snapshot() -> Path:
    """A copy of the code, so that edits made while the bench runs do not change what later
    runs measure (each run is a fresh process that imports the code again)."""
    target = Path(tempfile.mkdtemp(prefix="vimis-bench-code-"))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SNAPSHOT_DIRS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, target / name, ignore=ignore)
    for name in SNAPSHOT_FILES:
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


def run_isolated(spec: Spec, timeout: float, code: Path) -> Result:
    with tempfile.TemporaryDirectory(prefix="vimis-bench-result-") as tmp:
        result_path = Path(tmp) / "result.json"
        command = [
            sys.executable,
            "-m",
            "bench.dialog",
            "--child",
            json.dumps(asdict(spec)),
            "--result-file",
            str(result_path),
        ]
        try:
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(code), env.get("PYTHONPATH", "")) if p
            )
            completed = subprocess.run(command, cwd=code, env=env, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return Result(spec.variant, spec.n, problems=[f"timed out after {timeout:.0f} s"])
        if completed.returncode != 0 or not result_path.exists():
            return Result(
                spec.variant, spec.n, problems=[f"child exited with {completed.returncode}"]
            )
        raw = json.loads(result_path.read_text(encoding="utf-8"))
        raw["steps"] = {k: tuple(v) for k, v in raw["steps"].items()}
        return Result(**raw)


async def can_reach_postgres(url: str) -> str | None:
    engine = create_async_engine(url)
    try:
        async with asyncio.timeout(5), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    finally:
        await engine.dispose()
    return None


async def can_reach_redis(url: str) -> str | None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        async with asyncio.timeout(5):
            await client.ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    finally:
        await client.aclose()
    return None


HEADER = (
    f"{'variant':<9} {'N':>6} {'updates':>8} {'wall s':>7} {'updates/s':>10} "
    f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>8} {'peak RSS MB':>11} {'CPU %':>6} "
    f"{'CPU ms/u':>8}  check"
)


def cpu_per_update(r: Result) -> float:
    """CPU seconds of the measured part per update fed."""
    return r.cpu_s / r.updates if r.updates else 0.0


def row(r: Result) -> str:
    check = f"ok, {r.submitted} submitted" if r.ok else f"FAILED, {r.submitted} submitted"
    return (
        f"{r.variant:<9} {r.n:>6} {r.updates:>8} {r.wall_s:>7.2f} {r.updates_per_s:>10.0f} "
        f"{r.p50_ms:>7.2f} {r.p99_ms:>7.2f} {r.max_ms:>8.1f} {r.peak_rss_mb:>11.1f} "
        f"{r.cpu_percent:>6.0f} {cpu_per_update(r) * 1000:>8.3f}  {check}"
    )


def print_steps(r: Result) -> None:
    print(f"  per step, {r.variant} N={r.n} (p50 / p99 ms):")
    for name, (p50, p99) in r.steps.items():
        print(f"    {name:<11} {p50:>8.2f} {p99:>8.2f}")


def print_ratios(results: list[Result], min_ratio: float, max_p99: float) -> bool | None:
    by_key = {(r.variant, r.n): r for r in results}
    if not any(("sqlite", r.n) in by_key for r in results if r.variant == "baseline"):
        return None  # nothing to compare (e.g. --variants max,sqlite)
    print(
        f"\nsqlite (DatabaseStorage) vs baseline (MemoryStorage); "
        f"targets: ratio ≥ {min_ratio:.2f}, p99 ≤ {max_p99:g} ms"
    )
    print(
        f"{'N':>6} {'sqlite u/s':>10} {'baseline u/s':>12} {'ratio':>6} {'sqlite p99':>10}  targets"
    )
    all_met: bool | None = None
    for n in sorted({r.n for r in results}):
        sqlite, baseline = by_key.get(("sqlite", n)), by_key.get(("baseline", n))
        if sqlite is None or baseline is None or not baseline.updates_per_s:
            continue
        ratio = sqlite.updates_per_s / baseline.updates_per_s
        ratio_met, p99_met = ratio >= min_ratio, sqlite.p99_ms <= max_p99
        met = ratio_met and p99_met and sqlite.ok and baseline.ok
        all_met = met if all_met is None else all_met and met
        verdict = ", ".join(
            [
                "ratio met" if ratio_met else "ratio NOT met",
                "p99 met" if p99_met else "p99 NOT met",
            ]
        )
        print(
            f"{n:>6} {sqlite.updates_per_s:>10.0f} {baseline.updates_per_s:>12.0f} "
            f"{ratio:>6.2f} {sqlite.p99_ms:>8.2f}ms  {verdict}"
        )
    return all_met


def print_max_ratios(results: list[Result], max_ratio: float) -> bool | None:
    """MAX's transport against Telegram's: CPU seconds per update of `max` and `sqlite` (the
    same dialog, the same SQLite DatabaseStorage) at each N, and their ratio."""
    by_key = {(r.variant, r.n): r for r in results}
    if not any(("sqlite", r.n) in by_key for r in results if r.variant == "max"):
        return None
    print(
        f"\nmax (MAX transport) vs sqlite (Telegram), CPU seconds per update; "
        f"target: ratio ≤ {max_ratio:.2f}"
    )
    print(f"{'N':>6} {'sqlite CPU s/u':>14} {'max CPU s/u':>12} {'ratio':>6}  target")
    all_met: bool | None = None
    for n in sorted({r.n for r in results}):
        mx, sqlite = by_key.get(("max", n)), by_key.get(("sqlite", n))
        if mx is None or sqlite is None or not cpu_per_update(sqlite):
            continue
        ratio = cpu_per_update(mx) / cpu_per_update(sqlite)
        met = ratio <= max_ratio and mx.ok and sqlite.ok
        all_met = met if all_met is None else all_met and met
        print(
            f"{n:>6} {cpu_per_update(sqlite):>14.5f} {cpu_per_update(mx):>12.5f} {ratio:>6.2f}  "
            + ("met" if ratio <= max_ratio else "NOT met")
        )
    return all_met


def parse_sizes(value: str) -> list[int]:
    try:
        sizes = [int(part) for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of integers: {value!r}") from exc
    if not sizes or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError("sizes must be positive integers")
    return sizes


def parse_cpus(value: str) -> list[int]:
    try:
        cpus = [int(part) for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of CPU numbers: {value!r}") from exc
    if not cpus or any(cpu < 0 for cpu in cpus):
        raise argparse.ArgumentTypeError("CPU numbers start at 0")
    return cpus


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dialog",
        description="N applicants through the whole request dialog, through the real dispatcher.",
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=[1, 100, 10000],
        help="numbers of applicants, comma-separated (default 1,100,10000)",
    )
    parser.add_argument(
        "--variants",
        default="baseline,sqlite,postgres,redis",
        help="which variants to run, of: "
        + ",".join(VARIANTS)
        + " (postgres and redis only with --postgres / --redis; max, MAX's transport, only "
        "when named: e.g. --variants max,sqlite)",
    )
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=DEFAULT_POSTGRES,
        metavar="URL",
        help=f"also run DatabaseStorage on PostgreSQL (default URL "
        f"{DEFAULT_POSTGRES}); its public schema is DROPPED and recreated",
    )
    parser.add_argument(
        "--postgres-sizes",
        type=parse_sizes,
        metavar="SIZES",
        help="sizes for the postgres variant (default: --sizes)",
    )
    parser.add_argument(
        "--redis",
        nargs="?",
        const=DEFAULT_REDIS,
        metavar="URL",
        help=f"also run RedisStorage (default URL {DEFAULT_REDIS})",
    )
    parser.add_argument(
        "--redis-sizes",
        type=parse_sizes,
        metavar="SIZES",
        help="sizes for the redis variant (default: --sizes)",
    )
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean seconds an applicant pauses before each answer, exponentially distributed "
        "(default 0: as fast as possible, which measures saturation; a pause measures latency "
        "at a load below it)",
    )
    parser.add_argument(
        "--api-latency",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds every fake Bot API call takes, as a network round trip would (default 0: "
        "answered at once); the latency figures leave this time out",
    )
    parser.add_argument(
        "--concurrency", type=int, default=100, help="applicants in a dialog at once (default 100)"
    )
    parser.add_argument(
        "--warmup", type=int, default=1, help="unmeasured dialogs before each run (default 1)"
    )
    parser.add_argument(
        "--tmpdir",
        help="where the SQLite files go (default: the system temp dir; e.g. /dev/shm for tmpfs)",
    )
    parser.add_argument(
        "--cpu",
        type=parse_cpus,
        metavar="CPUS",
        help="pin the measured processes to these CPUs, e.g. 0 for one core",
    )
    parser.add_argument("--steps", action="store_true", help="print p50/p99 per dialog step")
    parser.add_argument(
        "--profile", action="store_true", help="run under cProfile and print the hot spots"
    )
    parser.add_argument("--profile-top", type=int, default=30, help="rows of profile (30)")
    parser.add_argument(
        "--log-level",
        default="WARNING",
        help="logging level inside the runs (default WARNING; the bot's "
        "default INFO logs a line per update)",
    )
    parser.add_argument(
        "--switch-interval",
        type=float,
        help="experiment: sys.setswitchinterval() in the runs (Python's default is 0.005 s)",
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds per run (900)")
    parser.add_argument("--min-ratio", type=float, default=0.5, help=argparse.SUPPRESS)
    parser.add_argument(
        "--max-cpu-ratio", type=float, default=MAX_TARGET_RATIO, help=argparse.SUPPRESS
    )
    parser.add_argument("--max-p99-ms", type=float, default=10.0, help=argparse.SUPPRESS)
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run every variant in this process (peak RSS is then cumulative)",
    )
    parser.add_argument(
        "--no-snapshot",
        action="store_true",
        help="run the live work tree instead of a copy taken at the start",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(Spec(**json.loads(args.child)), Path(args.result_file))

    wanted = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(wanted) - set(VARIANTS))
    if unknown:
        print(f"unknown variants: {', '.join(unknown)}", file=sys.stderr)
        return 2
    sizes: dict[str, list[int]] = {"baseline": args.sizes, "sqlite": args.sizes, "max": args.sizes}
    if "postgres" in wanted and args.postgres:
        problem = asyncio.run(can_reach_postgres(args.postgres))
        if problem:
            print(f"note: postgres skipped, cannot connect to {args.postgres}: {problem}")
        else:
            sizes["postgres"] = args.postgres_sizes or args.sizes
    if "redis" in wanted and args.redis:
        problem = asyncio.run(can_reach_redis(args.redis))
        if problem:
            print(f"note: redis skipped, cannot connect to {args.redis}: {problem}")
        else:
            sizes["redis"] = args.redis_sizes or args.sizes
    plan = [
        (variant, n)
        for n in sorted({n for v in sizes.values() for n in v})
        for variant in VARIANTS
        if variant in wanted and n in sizes.get(variant, [])
    ]
    print(
        f"{len(DIALOG)} updates per dialog, concurrency {args.concurrency}, think {args.think} s, "
        f"api latency {args.api_latency} s, "
        f"warm-up "
        f"{args.warmup}, python {sys.version.split()[0]}, cpus "
        f"{args.cpu or 'all'} of {os.cpu_count()}, runs: " + ", ".join(f"{v}×{n}" for v, n in plan),
        flush=True,
    )
    print(f"code: {describe_code()}", flush=True)
    code = ROOT
    if not args.in_process and not args.no_snapshot:
        code = make_snapshot()
        print(f"measuring a snapshot of it in {code} (removed at the end)", flush=True)
    try:
        results = run_plan(args, plan, code)
    finally:
        if code != ROOT:
            shutil.rmtree(code, ignore_errors=True)
    print(f"code at the end: {describe_code()}")
    return report(args, results)


def run_plan(args: argparse.Namespace, plan: list[tuple[str, int]], code: Path) -> list[Result]:
    print(HEADER, flush=True)
    results: list[Result] = []
    started = time.perf_counter()
    for variant, n in plan:
        spec = Spec(
            variant=variant,
            n=n,
            concurrency=args.concurrency,
            think=args.think,
            api_latency=args.api_latency,
            warmup=args.warmup,
            tmpdir=args.tmpdir,
            postgres=args.postgres or DEFAULT_POSTGRES,
            redis=args.redis or DEFAULT_REDIS,
            profile=args.profile,
            profile_top=args.profile_top,
            cpus=args.cpu,
            log_level=args.log_level,
            switch_interval=args.switch_interval,
        )
        if args.in_process:
            if args.cpu:
                os.sched_setaffinity(0, set(args.cpu))
            if args.switch_interval:
                sys.setswitchinterval(args.switch_interval)
            result = asyncio.run(run_variant(spec))
        else:
            result = run_isolated(spec, args.timeout, code)
        results.append(result)
        print(row(result), flush=True)
        for line in result.diagnostics:
            print(f"  {line}", flush=True)
        for problem in result.problems:
            print(f"  !! {problem}", flush=True)
        if args.steps and result.steps:
            print_steps(result)
    print(f"\ntotal time {time.perf_counter() - started:.1f} s")
    return results


def report(args: argparse.Namespace, results: list[Result]) -> int:
    print()
    print(HEADER)
    for result in results:
        print(row(result))
    verdicts = [
        print_ratios(results, args.min_ratio, args.max_p99_ms),
        print_max_ratios(results, args.max_cpu_ratio),
    ]
    failed = [r for r in results if not r.ok]
    if failed:
        print("\nFAILED runs: " + ", ".join(f"{r.variant}×{r.n}" for r in failed))
        return 1
    evaluated = [v for v in verdicts if v is not None]
    if not evaluated:
        print(
            "\ntargets not evaluated (they need sqlite and baseline, or max and sqlite, "
            "at the same N)"
        )
    else:
        print("\ntargets met" if all(evaluated) else "\ntargets NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
