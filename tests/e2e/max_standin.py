"""A fake MAX (max.ru) Bot API server ("stand-in") for end-to-end tests.

The MAX counterpart of ``standin.py``: the bot is pointed at ``mx.url`` (as ``MAX_API_URL``)
and talks to it over HTTP on 127.0.0.1.  The stand-in answers in MAX's shapes, refuses what
MAX refuses (with MAX's ``{"code": ..., "message": ...}`` error bodies) and records everything
so that tests can inspect it::

    async with MaxApiStandin(token="max-test-token") as mx:
        ...  # start the bot against mx.url

The spec is the research notes ``/work/notes/max-api.md`` (sections are cited as "notes §N",
its open questions as "OQ N").

Faithful to MAX
---------------
* Auth is the header ``Authorization: <token>``, nothing else (notes §1): ``Bearer <token>``,
  a missing or wrong header and any ``?access_token=`` answer 401
  ``{"code": "verify.token", "message": "Invalid access_token"}``.
* Ids (notes §3): a user's dialog with the bot has its own positive ``chat_id``
  (``dialog_chat_id(user_id)``, a fixed offset from the user id), groups have negative ids.
  ``seq`` is unique per chat and is ``(timestamp_ms << 16) | counter``; ``mid`` is
  ``"mid." + hex16(chat_id as two's-complement int64) + hex16(seq)`` (``make_mid``,
  ``parse_mid``).
* ``GET /me``; ``PATCH /me/commands`` (at most 32 commands, name 1..64, description 1..128,
  notes §6/§9); ``GET /chats/{id}``.

Assumptions (where the notes leave a question open)
---------------------------------------------------
* OQ 7: ``PATCH /me`` is answered 404 ``not.found``: MAX switched it off on 15.09.2026, so a
  bot must use ``PATCH /me/commands``.
* A command name with a leading ``/`` is refused (maxapi's example sends ``/state``,
  aiogram-max sends ``start``; the stricter reading wins), and so are blanks in a name and
  duplicate names.
* An unknown ``chat_id``/``user_id`` is 404 ``chat.not.found`` (a code aiomax maps; the status
  is a guess).

Deliberately stricter than MAX
------------------------------
* Every length limit is counted in UTF-16 code units (MAX's server is Java: ``String.length``),
  so an emoji counts 2.
* ``?access_token=`` is refused even next to a correct header: the token must never appear
  in a URL (where it ends up in logs).
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Json = dict[str, Any]

DEFAULT_TOKEN = "max-test-token"
BOT_USER_ID = 277_000_042
BOT_USERNAME = "vimis_test_bot"
BOT_FIRST_NAME = "ВИМИС"
# A user's dialog with the bot: chat id = DIALOG_CHAT_BASE + user id (positive, never the
# user id itself, as in MAX).  Groups get negative ids below GROUP_CHAT_BASE.
DIALOG_CHAT_BASE = 400_000_000_000
GROUP_CHAT_BASE = -70_000_000_000_000
MAX_COMMANDS = 32
MAX_COMMAND_NAME = 64
MAX_COMMAND_DESCRIPTION = 128
TOO_MANY_REQUESTS = "Too many requests. Limit is: {limit} calls per second."
_INT64 = 1 << 64


# --------------------------------------------------------------------------- helpers


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: how MAX's (Java) server counts string lengths."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def make_mid(chat_id: int, seq: int) -> str:
    """``mid`` of the message ``seq`` in ``chat_id``, as MAX builds it (notes §3)."""
    return f"mid.{chat_id % _INT64:016x}{seq:016x}"


def parse_mid(mid: str) -> tuple[int, int] | None:
    """(chat_id, seq) of a ``mid`` (None if it is not one)."""
    match = re.fullmatch(r"mid\.([0-9a-f]{16})([0-9a-f]{16})", mid)
    if match is None:
        return None
    chat_id = int(match.group(1), 16)
    if chat_id >= _INT64 // 2:
        chat_id -= _INT64
    return chat_id, int(match.group(2), 16)


def now_ms() -> int:
    return int(time.time() * 1000)


class MaxError(Exception):
    """A refusal, answered as ``{"code": code, "message": message}`` with HTTP ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def bad_payload(message: str) -> MaxError:
    return MaxError(400, "proto.payload", message)


def not_found(message: str) -> MaxError:
    return MaxError(404, "not.found", message)


def chat_not_found(message: str) -> MaxError:
    return MaxError(404, "chat.not.found", message)


def chat_denied(message: str) -> MaxError:
    return MaxError(403, "chat.denied", message)


INVALID_TOKEN = MaxError(401, "verify.token", "Invalid access_token")


# --------------------------------------------------------------------------- records


@dataclass
class ApiCall:
    """Any request the bot made to the API (successful or not)."""

    method: str  # HTTP method
    path: str
    query: dict[str, str]
    json: Any = None  # the parsed body, None when there was none


@dataclass
class Refusal:
    """A request the stand-in refused, as MAX would have."""

    method: str
    path: str
    status: int
    code: str
    message: str
    query: dict[str, str]
    json: Any = None


@dataclass
class MaxUser:
    user_id: int
    first_name: str
    last_name: str = ""
    username: str | None = None
    locale: str = "ru"

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def to_json(self) -> Json:
        data: Json = {
            "user_id": self.user_id,
            "first_name": self.first_name,
            "last_name": self.last_name,
        }
        if self.username:
            data["username"] = self.username
        data.update(is_bot=False, last_activity_time=now_ms(), name=self.name)
        return data


@dataclass
class Group:
    """A group chat (MAX ``chat_type: "chat"``) with the bot in it."""

    chat_id: int
    title: str
    members: set[int] = field(default_factory=set)
    owner_id: int | None = None
    bot_member: bool = True
    bot_admin: bool = True  # a non-admin bot gets no messages from the group (notes §10)


FAULT_KINDS = (
    "500",  # {"code": "internal.error"}, the call had no effect
    "502",  # a proxy's HTML page: not even JSON
    "503",  # {"code": "service.unavailable"}, the call had no effect
    "drop",  # the connection closes before the call takes effect
    "drop_after",  # the call takes effect, then the connection closes: the answer is lost
    "timeout",  # no answer for `timeout_hold` seconds, then the connection closes (no effect)
    "429",  # too.many.requests, without Retry-After (as MAX answers)
    "403",  # chat.denied
    "404",  # not.found
)


@dataclass
class FaultRule:
    route: str | None  # "POST /messages", "/messages" (any method) or None (any call)
    chat_id: int | None  # None: any chat
    faults: list[str]


Handler = Callable[["Request"], Awaitable[Any]]
_dumps = functools.partial(json.dumps, ensure_ascii=False)


@dataclass
class Request:
    """What a route handler gets: the query, the JSON body and the path's groups."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    args: tuple[str, ...]

    def object_body(self) -> Json:
        """The body as a JSON object ({} when there is none)."""
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise bad_payload("Request body must be a JSON object")
        return self.body

    def int_param(self, name: str, *, required: bool = True) -> int | None:
        raw = self.query.get(name)
        if raw is None or raw == "":
            if required:
                raise bad_payload(f"Parameter `{name}` is required")
            return None
        if not re.fullmatch(r"-?\d{1,19}", raw):
            raise bad_payload(f"Parameter `{name}` must be an integer, got {raw!r}")
        return int(raw)


class MaxApiStandin:
    """Fake MAX Bot API server.  Tests may fill ``stopped_users`` and inspect ``calls``,
    ``errors``, ``commands``, ``injected``."""

    def __init__(self, token: str = DEFAULT_TOKEN) -> None:
        self.token = token
        self.url = ""
        self.calls: list[ApiCall] = []
        self.errors: list[Refusal] = []
        self.commands: list[Json] = []
        self.users: dict[int, MaxUser] = {}
        self.groups: dict[int, Group] = {}
        self.dialog_users: set[int] = set()  # users whose dialog with the bot exists
        self.stopped_users: set[int] = set()  # stopped or blocked the bot: sends are refused
        # Fault injection and limits.
        self.rules: list[FaultRule] = []
        self.injected: list[tuple[str, int | None, str]] = []  # (route, chat, fault)
        self.latency = 0.0
        self.timeout_hold = 3.0  # how long a "timeout" fault holds the request
        self.enforce_limits = False
        self.limit_per_second = 10  # measured live (notes §1, OQ 3); the docs say 30
        self.flood_refusals = 0
        self._recent: list[float] = []
        self._next_group = 0
        self._closing = False
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            (method, re.compile(pattern), handler)
            for method, pattern, handler in (
                ("GET", r"/me", self._get_me),
                ("PATCH", r"/me/commands", self._patch_commands),
                ("PATCH", r"/me", self._patch_me),
                ("GET", r"/chats/(-?\d+)", self._get_chat),
            )
        ]

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.url

    async def stop(self) -> None:
        self._closing = True
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> MaxApiStandin:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    @staticmethod
    async def _wait(event: asyncio.Event, seconds: float) -> None:
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            pass

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        call = ApiCall(request.method, path, dict(request.query))
        self.calls.append(call)
        try:
            self._check_auth(request)
            handler, args = self._route(request.method, path)
            if request.body_exists:
                raw = await request.read()
                if raw.strip():
                    try:
                        call.json = json.loads(raw)
                    except ValueError:
                        raise bad_payload("Request body is not valid JSON") from None
            req = Request(request.method, path, call.query, call.json, args)
            if self.latency:
                await asyncio.sleep(self.latency)
            fault = self._next_fault(request.method, path, self._target_chat(req))
            if fault is not None:
                early = await self._inject(request, fault)
                if early is not None:
                    return early
            self._check_limits()
            result = await handler(req)
            if fault == "drop_after":
                return self._drop(request)
        except MaxError as exc:
            return self._refuse(call, exc)
        except Exception as exc:  # input the stand-in does not understand (or a bug in it)
            return self._refuse(
                call, MaxError(500, "internal.error", f"the stand-in failed: {exc!r}")
            )
        return web.json_response(result, dumps=_dumps)

    def _check_auth(self, request: web.Request) -> None:
        if "access_token" in request.query:
            raise INVALID_TOKEN  # no longer supported by MAX; never put a token in a URL
        if request.headers.get("Authorization") != self.token:
            raise INVALID_TOKEN

    def _route(self, method: str, path: str) -> tuple[Handler, tuple[str, ...]]:
        allowed = False
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method == method:
                return handler, match.groups()
            allowed = True
        if allowed:
            raise MaxError(405, "method.not.allowed", f"Method {method} is not allowed for {path}")
        raise not_found(f"Path {path} not found")

    def _refuse(self, call: ApiCall, exc: MaxError) -> web.Response:
        self.errors.append(
            Refusal(
                call.method, call.path, exc.status, exc.code, exc.message, call.query, call.json
            )
        )
        return web.json_response(
            {"code": exc.code, "message": exc.message}, status=exc.status, dumps=_dumps
        )

    def _target_chat(self, req: Request) -> int | None:
        """The chat a call is about (for per-chat faults)."""
        query = req.query
        try:
            if query.get("chat_id"):
                return int(query["chat_id"])
            if query.get("user_id"):
                return self.dialog_chat_id(int(query["user_id"]))
        except ValueError:
            return None
        if req.args and re.fullmatch(r"-?\d+", req.args[0]):
            return int(req.args[0])
        return None

    # ------------------------------------------------------------------ faults and limits

    def fail(self, route: str | None = None, chat_id: int | None = None, *faults: str) -> None:
        """The next matching calls fail, one fault each, in order, e.g.
        ``fail("POST /messages", mx.dialog_chat_id(1001), "500", "drop")``.  ``route`` is
        ``"METHOD /path"``, a bare ``"/path"`` (any method) or None (any call)."""
        unknown = [f for f in faults if f not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown faults {unknown}; known: {FAULT_KINDS}")
        self.rules.append(FaultRule(route, chat_id, list(faults)))

    def _next_fault(self, method: str, path: str, chat_id: int | None) -> str | None:
        for rule in self.rules:
            if not rule.faults or rule.chat_id not in (None, chat_id):
                continue
            if rule.route in (None, path, f"{method} {path}"):
                fault = rule.faults.pop(0)
                self.injected.append((f"{method} {path}", chat_id, fault))
                return fault
        return None

    @staticmethod
    def _drop(request: web.Request) -> web.Response:
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)  # never reaches the client: the connection is gone

    async def _inject(self, request: web.Request, fault: str) -> web.StreamResponse | None:
        if fault == "drop":
            return self._drop(request)
        if fault == "timeout":
            await asyncio.sleep(self.timeout_hold)
            return self._drop(request)
        if fault == "502":
            html = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
            return web.Response(status=502, text=html, content_type="text/html")
        errors = {
            "500": MaxError(500, "internal.error", "Internal error"),
            "503": MaxError(503, "service.unavailable", "Service unavailable"),
            "429": MaxError(
                429,
                "too.many.requests",
                TOO_MANY_REQUESTS.format(limit=self.limit_per_second),
            ),
            "403": chat_denied("Bot has no access to the chat"),
            "404": not_found("Not found"),
        }
        if fault in errors:
            raise errors[fault]
        return None  # drop_after: the call runs first

    def _check_limits(self) -> None:
        """MAX's rate limit (per token): past ``limit_per_second`` calls in a second, a 429
        without Retry-After, and the call does not happen."""
        if not self.enforce_limits:
            return
        now = time.monotonic()
        self._recent = [t for t in self._recent if t > now - 1.0]
        if len(self._recent) >= self.limit_per_second:
            self.flood_refusals += 1
            raise MaxError(
                429, "too.many.requests", TOO_MANY_REQUESTS.format(limit=self.limit_per_second)
            )
        self._recent.append(now)

    # ------------------------------------------------------------------ users and chats

    def bot_user(self) -> Json:
        return {
            "user_id": BOT_USER_ID,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
            "is_bot": True,
            "last_activity_time": now_ms(),
            "name": BOT_FIRST_NAME,
        }

    def _user(self, user_id: int) -> MaxUser:
        return self.users.setdefault(user_id, MaxUser(user_id, "Иван"))

    def _user_json(self, user_id: int) -> Json:
        return self.bot_user() if user_id == BOT_USER_ID else self._user(user_id).to_json()

    @staticmethod
    def dialog_chat_id(user_id: int) -> int:
        """The chat id of the user's dialog with the bot (never the user id itself)."""
        return DIALOG_CHAT_BASE + user_id

    def dialog_user(self, chat_id: int) -> int | None:
        """The user of a dialog chat that exists (None for groups and unknown chats)."""
        user_id = chat_id - DIALOG_CHAT_BASE
        return user_id if chat_id > 0 and user_id in self.dialog_users else None

    def introduce(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str = "",
        username: str | None = None,
        locale: str = "ru",
    ) -> int:
        """A user who has the bot in their chat list (their dialog exists), before they write;
        returns the dialog's chat id."""
        self.users[user_id] = MaxUser(user_id, first_name, last_name, username, locale)
        self.dialog_users.add(user_id)
        return self.dialog_chat_id(user_id)

    def create_group(
        self,
        title: str = "Тестовая группа",
        *,
        members: tuple[int, ...] | list[int] = (),
        bot_admin: bool = True,
    ) -> int:
        """A group chat with the bot (an admin unless told otherwise) and these users in it;
        returns its (negative) chat id."""
        self._next_group += 1
        chat_id = GROUP_CHAT_BASE - self._next_group * 1_000_003
        for user_id in members:
            self._user(user_id)
        self.groups[chat_id] = Group(
            chat_id,
            title,
            set(members),
            owner_id=members[0] if members else None,
            bot_admin=bot_admin,
        )
        return chat_id

    def _chat_kind(self, chat_id: int) -> str:
        """ "dialog" or "chat"; 404 ``chat.not.found`` for a chat the bot does not know."""
        if self.dialog_user(chat_id) is not None:
            return "dialog"
        if chat_id in self.groups:
            return "chat"
        raise chat_not_found(f"Chat {chat_id} not found")

    def _gate(self, chat_id: int) -> None:
        """Refusals of a valid call that come from the chat's state."""
        user_id = self.dialog_user(chat_id)
        if user_id is not None and user_id in self.stopped_users:
            raise chat_denied(f"Chat {chat_id}: the user has stopped or blocked the bot")
        group = self.groups.get(chat_id)
        if group is not None and not group.bot_member:
            raise chat_denied(f"Chat {chat_id}: the bot is not a member")

    # ------------------------------------------------------------------ bot info, chats

    async def _get_me(self, req: Request) -> Any:
        info = self.bot_user()
        info["description"] = "Тестовый бот ВИМИС"
        if self.commands:
            info["commands"] = self.commands
        return info

    async def _patch_commands(self, req: Request) -> Any:
        body = req.object_body()
        commands = body.get("commands")
        if not isinstance(commands, list):
            raise bad_payload("`commands` must be an array")
        if len(commands) > MAX_COMMANDS:
            raise bad_payload(f"commands: size must be between 0 and {MAX_COMMANDS}")
        seen: set[str] = set()
        cleaned: list[Json] = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad_payload("commands: each command must be an object")
            name, description = command.get("name"), command.get("description")
            if not isinstance(name, str) or not 1 <= utf16_len(name) <= MAX_COMMAND_NAME:
                raise bad_payload(f"commands.name: size must be between 1 and {MAX_COMMAND_NAME}")
            if name.startswith("/") or re.search(r"\s", name):
                raise bad_payload(f"commands.name: {name!r} must be a bare word without '/'")
            if name in seen:
                raise bad_payload(f"commands.name: {name!r} is given twice")
            seen.add(name)
            if (
                not isinstance(description, str)
                or not description.strip()
                or utf16_len(description) > MAX_COMMAND_DESCRIPTION
            ):
                raise bad_payload(
                    f"commands.description: size must be between 1 and {MAX_COMMAND_DESCRIPTION}"
                )
            cleaned.append({"name": name, "description": description})
        self.commands = cleaned
        return {"commands": cleaned}

    async def _patch_me(self, req: Request) -> Any:
        raise not_found("PATCH /me is no longer supported (since 15.09.2026): PATCH /me/commands")

    async def _get_chat(self, req: Request) -> Any:
        chat_id = int(req.args[0])
        if self._chat_kind(chat_id) == "dialog":
            user_id = self.dialog_user(chat_id)
            assert user_id is not None
            return {
                "chat_id": chat_id,
                "type": "dialog",
                "status": "active",
                "title": None,
                "last_event_time": now_ms(),
                "participants_count": 2,
                "is_public": False,
                "dialog_with_user": self._user_json(user_id),
            }
        group = self.groups[chat_id]
        return {
            "chat_id": chat_id,
            "type": "chat",
            "status": "active" if group.bot_member else "removed",
            "title": group.title,
            "last_event_time": now_ms(),
            "participants_count": len(group.members) + 1,
            "is_public": False,
            "owner_id": group.owner_id,
        }
