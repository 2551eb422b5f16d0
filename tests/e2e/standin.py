"""A fake Telegram Bot API server ("stand-in") for end-to-end tests.

The real bot (aiogram with ``TelegramAPIServer.from_base(standin.url)``) talks to it over HTTP on
127.0.0.1.  The stand-in answers in Telegram's shapes, refuses what Telegram refuses (with
Telegram's error descriptions) and records everything so that tests can inspect it::

    async with BotApiStandin() as tg:
        ...  # start the bot against tg.url
        n = len(tg.sent)
        tg.push_message(1001, "/start")
        reply = await tg.wait_for_message(1001, after=n)
        tg.press(1001, "Записаться")
        ...
        assert tg.errors == []

Faults, as Telegram and the network produce them, can be scripted per method and chat
(``fail``): a 500, a proxy's 502 page, a dropped connection (before or after the call took
effect), a timeout, a 429 with any ``retry_after``, a 403, "chat not found", "message is not
modified". ``latency`` delays every answer; ``enforce_limits`` answers 429 past Telegram's
limits (30 messages a second, 20 a minute per group). After ``setWebhook`` the stand-in pushes
updates to the bot over HTTP, as Telegram does: up to ``max_connections`` at once, with the
secret header, over kept-alive connections, retried until answered 2xx (``route`` can
spread them over several workers).

Telegram's rules themselves (HTML parsing, limits, reply markup, the refusals' descriptions) are
in tests/support/telegram_rules.py, shared with the in-process harness; ``strict_html=True``
(the default) is *stricter* than Telegram in two places: a bare ``&`` that does not start an
entity and ``<a>`` without ``href`` are refused.
"""

from __future__ import annotations

import asyncio
import functools
import json
import mimetypes
import re
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.telegram_rules import (
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    ApiError,
    Json,
    bad,
    check_callback_answer,
    check_modified,
    check_reply_markup,
    check_topic_name,
    forbidden,
    format_text,
    inline_buttons,
    inline_markup,
    too_many_requests,
    utf16_len,
)

ChatId = int | str

BOT_ID = 42
BOT_USERNAME = "vimis_test_bot"
BOT_FIRST_NAME = "ВИМИС"
BOT_SENDER: Json = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": BOT_FIRST_NAME,
    "username": BOT_USERNAME,
}
CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
# Update types Telegram does not deliver unless they are listed in allowed_updates explicitly.
_OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
_CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_send_welcome_messages",
    "can_pin_messages",
    "can_manage_topics",
)
_RESTRICTED_RIGHTS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_react_to_messages",
    "can_edit_tag",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
)
# Multipart/urlencoded values arrive as strings; these are decoded back to their JSON types.
_JSON_PARAMS = {
    "reply_markup",
    "entities",
    "caption_entities",
    "commands",
    "scope",
    "menu_button",
    "link_preview_options",
    "reply_parameters",
    "allowed_updates",
    "media",
}
_INT_PARAMS = {
    "chat_id",
    "from_chat_id",
    "message_id",
    "message_thread_id",
    "offset",
    "limit",
    "timeout",
    "user_id",
    "icon_color",
    "reply_to_message_id",
    "cache_time",
}
_BOOL_PARAMS = {
    "show_alert",
    "disable_notification",
    "protect_content",
    "drop_pending_updates",
    "allow_sending_without_reply",
    "disable_web_page_preview",
}


# --------------------------------------------------------------------------- records


@dataclass
class UploadedFile:
    field: str
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


@dataclass
class ApiCall:
    """Any request the bot made (successful or not)."""

    method: str
    params: Json
    files: dict[str, UploadedFile] = field(default_factory=dict)


@dataclass
class Refusal:
    """A request the stand-in refused, as Telegram would have."""

    method: str
    status: int
    description: str
    params: Json


# Calls that add a message to a chat: what Telegram's flood control counts.
_CREATES = frozenset(
    {
        "sendmessage",
        "senddocument",
        "sendphoto",
        "copymessage",
        "forwardmessage",
        "createforumtopic",
    }
)
FAULT_KINDS = (
    "500",  # Internal Server Error (JSON), the call had no effect
    "502",  # a proxy's HTML page: not even JSON
    "drop",  # the connection closes before the call takes effect
    "drop_after",  # the call takes effect, then the connection closes: the answer is lost
    "timeout",  # no answer within the client's timeout (the call has no effect)
    "429",  # Too Many Requests with `retry_after`
    "403",  # Forbidden: bot was blocked by the user
    "chat_not_found",  # Bad Request: chat not found
    "not_modified",  # Bad Request: message is not modified
    "400",  # any other Bad Request
)


@dataclass
class Fault:
    kind: str
    retry_after: int = 5


@dataclass
class FaultRule:
    method: str | None  # None: any method
    chat_id: ChatId | None  # None: any chat
    faults: list[Fault]


@dataclass
class StoredMessage:
    """Current state of a message in a chat (sent by the bot or pushed as a user message)."""

    chat_id: ChatId
    message_id: int
    from_bot: bool
    kind: str  # "text", "photo", "document", "sticker"
    text: str | None  # text or caption after entity parsing
    raw_text: str | None  # text or caption exactly as sent
    parse_mode: str | None
    entities: list[Json]
    reply_markup: Json | None  # as sent (reply keyboards too); only inline ones are echoed
    message_thread_id: int | None
    sender: Json
    date: int
    media: Json = field(default_factory=dict)  # photo / document / sticker / forward_origin
    reply_to: tuple[ChatId, int] | None = None
    edit_date: int | None = None

    @property
    def inline_markup(self) -> Json | None:
        return inline_markup(self.reply_markup)

    @property
    def buttons(self) -> list[str]:
        return [b.get("text", "") for b in inline_buttons(self.reply_markup)]


@dataclass
class SentRecord:
    """One successful send/edit call, with a snapshot of the resulting message."""

    seq: int  # index in ``BotApiStandin.sent``
    method: str
    params: Json
    chat_id: ChatId
    message_id: int
    text: str | None  # plain text (or caption) after entity parsing
    raw_text: str | None  # as sent, e.g. with HTML tags
    parse_mode: str | None
    reply_markup: Json | None
    message_thread_id: int | None
    message: Json  # the Message object returned to the bot
    file: UploadedFile | None = None

    @property
    def buttons(self) -> list[str]:
        return [b.get("text", "") for b in inline_buttons(self.reply_markup)]

    def callback_data(self, button_text: str) -> str | None:
        for button in inline_buttons(self.reply_markup):
            if button.get("text") == button_text:
                return button.get("callback_data")
        return None

    def describe(self) -> str:
        text = (self.text or "")[:300]
        return f"#{self.seq} {self.method} msg {self.message_id}: {text!r} buttons={self.buttons}"


@dataclass
class CallbackRecord:
    id: str
    user_id: int
    chat_id: ChatId
    message_id: int
    data: str
    answered: bool = False
    answer: Json | None = None  # params of answerCallbackQuery


@dataclass
class ForumTopic:
    chat_id: ChatId
    message_thread_id: int
    name: str
    icon_color: int = 7322096
    icon_custom_emoji_id: str | None = None
    closed: bool = False
    deleted: bool = False

    def to_json(self) -> Json:
        data: Json = {
            "message_thread_id": self.message_thread_id,
            "name": self.name,
            "icon_color": self.icon_color,
        }
        if self.icon_custom_emoji_id:
            data["icon_custom_emoji_id"] = self.icon_custom_emoji_id
        return data


def _normalize(raw: Json) -> Json:
    """Decode form-encoded values back to the JSON types the Bot API expects."""
    params: Json = {}
    for key, value in raw.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if isinstance(value, str):
            if key in _JSON_PARAMS:
                try:
                    value = json.loads(value)
                except ValueError:
                    what = "reply keyboard markup" if key == "reply_markup" else key
                    raise bad(f"can't parse {what} JSON object") from None
            elif key in _INT_PARAMS and re.fullmatch(r"\s*-?\d+\s*", value):
                value = int(value)
            elif key in _BOOL_PARAMS and value.lower() in ("true", "false"):
                value = value.lower() == "true"
        params[key] = value
    return params


Handler = Callable[[Json, dict[str, UploadedFile]], Awaitable[Any]]
_dumps = functools.partial(json.dumps, ensure_ascii=False)


class BotApiStandin:
    """Fake Bot API server. Tests may fill ``blocked_chats``, ``flood_wait``, ``forum_chats``
    and ``chat_members`` and inspect ``sent``, ``messages``, ``errors``, ``calls``."""

    def __init__(self, *, strict_html: bool = True) -> None:
        self.strict_html = strict_html
        self.url = ""
        self.tokens: list[str] = []  # every distinct token the bot used
        self.calls: list[ApiCall] = []
        self.sent: list[SentRecord] = []
        self.messages: dict[tuple[ChatId, int], StoredMessage] = {}
        self.deleted: list[tuple[ChatId, int]] = []
        self.errors: list[Refusal] = []
        self.updates: list[Json] = []  # every update ever pushed
        self.dropped_updates: list[Json] = []  # filtered out by the bot's allowed_updates
        self.callbacks: dict[str, CallbackRecord] = {}
        self.chat_actions: list[tuple[ChatId, str]] = []
        self.commands: dict[tuple[str, str], list[Json]] = {}  # (scope JSON, language) -> list
        self.menu_buttons: dict[ChatId | None, Json] = {}
        self.blocked_chats: set[ChatId] = set()
        self.flood_wait: dict[ChatId, int] = {}
        self.forum_chats: set[ChatId] = set()
        self.topics: dict[tuple[ChatId, int], ForumTopic] = {}
        self.chat_members: dict[tuple[ChatId, int], str] = {}  # -> status ("member", ...)
        self.files: dict[str, bytes] = {}
        self.allowed_updates: list[str] | None = None
        self.conflicts = 0  # getUpdates requests terminated by a newer one (HTTP 409)
        # Fault injection and limits (see the module's docstring).
        self.rules: list[FaultRule] = []
        self.injected: list[tuple[str, ChatId | None, str]] = []  # (method, chat, fault)
        self.latency = 0.0
        self.timeout_hold = 3.0  # how long a "timeout" fault holds the request
        self.enforce_limits = False
        self.limit_per_second = 30
        self.limit_group_per_minute = 20
        self.flood_refusals = 0
        self._recent: dict[ChatId | None, list[float]] = {}
        # Webhook delivery (after setWebhook).
        self.webhook: Json | None = None  # url, secret_token, max_connections
        self.route: Callable[[Json], str | None] | None = None  # update -> URL (workers)
        self.push_delay = 0.0  # seconds before each push (a slower Telegram)
        self.webhook_posts: list[tuple[int, str, int]] = []  # (update_id, url, HTTP status)
        self._push_queue: asyncio.Queue[Json] | None = None
        self._pushers: list[asyncio.Task[None]] = []
        self._pending: list[Json] = []  # updates not yet confirmed via offset
        self._users: dict[int, Json] = {}
        self._chat_types: dict[ChatId, str] = {}
        self._next_message_id: dict[ChatId, int] = {}
        self._update_id = 0
        self._file_seq = 0
        self._poll_generation = 0
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, Handler] = {
            name[len("_api_") :].lower(): getattr(self, name)
            for name in dir(self)
            if name.startswith("_api_")
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.url

    async def stop(self) -> None:
        self._closing = True
        self._notify()  # release pending long polls
        for pusher in self._pushers:
            pusher.cancel()
        if self._pushers:
            await asyncio.gather(*self._pushers, return_exceptions=True)
        self._pushers.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiStandin:
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

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        token = request.match_info["token"]
        if token not in self.tokens:
            self.tokens.append(token)
        params: Json = {}
        try:
            params, files = await self._read_params(request)
            self.calls.append(ApiCall(method, params, files))
            handler = self._methods.get(method.lower())
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            if self.latency:
                await asyncio.sleep(self.latency)
            fault = self._next_fault(method, params)
            if fault is not None:
                early = await self._inject(request, fault)
                if early is not None:
                    return early
            self._check_limits(method, params)
            result = await handler(params, files)
            if fault is not None and fault.kind == "drop_after":
                return self._drop(request)
        except ApiError as exc:
            return self._refuse(method, params, exc)
        except Exception as exc:  # input the stand-in does not understand (or a bug in it)
            error = ApiError(500, f"Internal Server Error: the stand-in failed: {exc!r}")
            return self._refuse(method, params, error)
        return web.json_response({"ok": True, "result": result}, dumps=_dumps)

    # ------------------------------------------------------------------ faults and limits

    def fail(
        self, method: str | None = None, chat_id: ChatId | None = None, *faults: str | Fault
    ) -> None:
        """The next matching calls fail, one fault each, in order: e.g.
        ``fail("sendMessage", -100, "500", "500", "drop")``."""
        parsed = [f if isinstance(f, Fault) else Fault(f) for f in faults]
        unknown = [f.kind for f in parsed if f.kind not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown faults {unknown}; known: {FAULT_KINDS}")
        self.rules.append(FaultRule(method, chat_id, parsed))

    def _next_fault(self, method: str, params: Json) -> Fault | None:
        chat = params.get("chat_id")
        for rule in self.rules:
            if rule.faults and rule.method in (None, method) and rule.chat_id in (None, chat):
                fault = rule.faults.pop(0)
                self.injected.append((method, chat, fault.kind))
                return fault
        return None

    def _drop(self, request: web.Request) -> web.Response:
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)  # never reaches the client: the connection is gone

    async def _inject(self, request: web.Request, fault: Fault) -> web.StreamResponse | None:
        kind = fault.kind
        if kind == "drop":
            return self._drop(request)
        if kind == "timeout":
            await asyncio.sleep(self.timeout_hold)
            return self._drop(request)
        if kind == "502":
            html = "<html><head><title>502 Bad Gateway</title></head></html>"
            return web.Response(status=502, text=html, content_type="text/html")
        errors = {
            "500": ApiError(500, "Internal Server Error"),
            "429": too_many_requests(fault.retry_after),
            "403": forbidden(private=True),
            "chat_not_found": bad("chat not found"),
            "not_modified": bad(NOT_MODIFIED),
            "400": bad("can't parse entities: Unsupported start tag"),
        }
        if kind in errors:
            raise errors[kind]
        return None  # drop_after: the call runs first

    def _check_limits(self, method: str, params: Json) -> None:
        """Telegram's flood control: past 30 messages a second for the bot or 20 a minute in
        a group, a 429 (and the call does not happen)."""
        if not self.enforce_limits or method.lower() not in _CREATES:
            return
        now = time.monotonic()
        chat = params.get("chat_id")
        windows: list[tuple[ChatId | None, int, float]] = [(None, self.limit_per_second, 1.0)]
        if isinstance(chat, int) and chat < 0:
            windows.append((chat, self.limit_group_per_minute, 60.0))
        for key, limit, period in windows:
            recent = [t for t in self._recent.get(key, []) if t > now - period]
            self._recent[key] = recent
            if len(recent) >= limit:
                self.flood_refusals += 1
                wait = max(1, int(recent[-limit] + period - now + 0.999))
                raise too_many_requests(wait)
        for key, _, _ in windows:
            self._recent[key].append(now)

    def _refuse(self, method: str, params: Json, exc: ApiError) -> web.Response:
        if exc.status == 409:
            self.conflicts += 1  # expected when a bot process is replaced; not an error
        else:
            self.errors.append(Refusal(method, exc.status, exc.description, params))
        body: Json = {"ok": False, "error_code": exc.status, "description": exc.description}
        if exc.parameters:
            body["parameters"] = exc.parameters
        return web.json_response(body, status=exc.status, dumps=_dumps)

    async def _read_params(self, request: web.Request) -> tuple[Json, dict[str, UploadedFile]]:
        raw: Json = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.body_exists:
            if request.content_type == "application/json":
                try:
                    data = await request.json()
                except ValueError:
                    raise bad("can't parse JSON encoded request body") from None
                if not isinstance(data, dict):
                    raise bad("JSON object expected as request body")
                raw.update(data)
            else:
                for key, value in (await request.post()).items():
                    if isinstance(value, web.FileField):
                        files[key] = UploadedFile(
                            key, value.filename, value.file.read(), value.content_type
                        )
                    else:
                        raw[key] = value
        return _normalize(raw), files

    async def _handle_file(self, request: web.Request) -> web.Response:
        content = self.files.get(request.match_info["path"].rpartition("/")[2])
        if content is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(body=content)

    # ------------------------------------------------------------------ shared helpers

    def _chat_type(self, chat_id: ChatId) -> str:
        if chat_id in self._chat_types:
            return self._chat_types[chat_id]
        return "private" if isinstance(chat_id, int) and chat_id > 0 else "supergroup"

    def _user_json(self, user_id: int) -> Json:
        if user_id == BOT_ID:
            return dict(BOT_SENDER)
        default = {"id": user_id, "is_bot": False, "first_name": "Иван", "language_code": "ru"}
        return dict(self._users.get(user_id, default))

    def _chat_json(self, chat_id: ChatId) -> Json:
        chat_type = self._chat_type(chat_id)
        if chat_type == "private" and isinstance(chat_id, int):
            user = self._user_json(chat_id)
            data: Json = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
            if "username" in user:
                data["username"] = user["username"]
            return data
        data = {"id": chat_id, "type": chat_type, "title": f"Test chat {chat_id}"}
        if chat_id in self.forum_chats:
            data["is_forum"] = True
        return data

    def _message_json(self, msg: StoredMessage, *, with_reply: bool = True) -> Json:
        data: Json = {
            "message_id": msg.message_id,
            "from": msg.sender,
            "date": msg.date,
            "chat": self._chat_json(msg.chat_id),
        }
        if msg.message_thread_id is not None:
            data["message_thread_id"] = msg.message_thread_id
            if msg.chat_id in self.forum_chats:
                data["is_topic_message"] = True
        data.update(msg.media)
        if msg.text is not None:
            prefix = "" if msg.kind == "text" else "caption_"
            data["text" if msg.kind == "text" else "caption"] = msg.text
            if msg.entities:
                data[prefix + "entities"] = msg.entities
        if msg.inline_markup is not None:
            data["reply_markup"] = msg.inline_markup
        if msg.edit_date is not None:
            data["edit_date"] = msg.edit_date
        target = self.messages.get(msg.reply_to) if msg.reply_to and with_reply else None
        if target is not None:
            data["reply_to_message"] = self._message_json(target, with_reply=False)
        return data

    def _alloc_message_id(self, chat_id: ChatId) -> int:
        self._next_message_id[chat_id] = self._next_message_id.get(chat_id, 0) + 1
        return self._next_message_id[chat_id]

    def _new_file_id(self, kind: str) -> str:
        self._file_seq += 1
        return f"{kind.upper()}-{self._file_seq:06d}-standin"

    def _chat_param(self, p: Json, key: str = "chat_id") -> ChatId:
        chat_id = p.get(key)
        if chat_id is None or chat_id == "":
            raise bad(f"{key} is empty")
        if isinstance(chat_id, int) or (isinstance(chat_id, str) and chat_id.startswith("@")):
            return chat_id
        raise bad("chat not found")

    @staticmethod
    def _message_id(p: Json) -> int:
        message_id = p.get("message_id")
        if not isinstance(message_id, int):
            raise bad("message identifier is not specified")
        return message_id

    def _gate(self, chat_id: ChatId, *, blocked: bool = True, flood: bool = True) -> None:
        """Refusals that come from Telegram's servers after the request itself was valid."""
        if blocked and chat_id in self.blocked_chats:
            raise forbidden(private=self._chat_type(chat_id) == "private")
        if flood and chat_id in self.flood_wait:
            raise too_many_requests(self.flood_wait.pop(chat_id))

    def _format(
        self, raw: Any, parse_mode: Any, entities: Any, *, caption: bool = False
    ) -> tuple[str | None, list[Json]]:
        """Parse text/caption like Telegram: entities, trimming and length limits."""
        return format_text(raw, parse_mode, entities, caption=caption, strict=self.strict_html)

    def _markup(self, p: Json) -> Json | None:
        markup = p.get("reply_markup")
        check_reply_markup(markup)
        return markup if isinstance(markup, dict) else None

    def _thread(self, chat_id: ChatId, p: Json) -> int | None:
        thread = p.get("message_thread_id")
        if thread is None:
            return None
        if not isinstance(thread, int):
            raise bad("message thread not found")
        if chat_id not in self.forum_chats:
            return thread
        topic = self.topics.get((chat_id, thread))
        if topic is None or topic.deleted:
            raise bad("message thread not found")
        if topic.closed:
            raise bad("TOPIC_CLOSED")
        return thread

    def _reply_to(self, chat_id: ChatId, p: Json) -> tuple[ChatId, int] | None:
        rp = p.get("reply_parameters")
        rp = rp if isinstance(rp, dict) else {}
        message_id = rp.get("message_id", p.get("reply_to_message_id"))
        if message_id is None:
            return None
        key = (rp.get("chat_id", chat_id), message_id)
        if key in self.messages:
            return key
        if rp.get("allow_sending_without_reply") or p.get("allow_sending_without_reply"):
            return None
        raise bad("message to be replied not found")

    def _new_message(
        self,
        method: str,
        p: Json,
        chat_id: ChatId,
        *,
        kind: str,
        text: str | None,
        raw: Any,
        entities: list[Json],
        markup: Json | None,
        thread: int | None,
        reply_to: tuple[ChatId, int] | None = None,
        media: Json | None = None,
        file: UploadedFile | None = None,
    ) -> StoredMessage:
        msg = StoredMessage(
            chat_id=chat_id,
            message_id=self._alloc_message_id(chat_id),
            from_bot=True,
            kind=kind,
            text=text,
            raw_text=raw,
            parse_mode=p.get("parse_mode"),
            entities=entities,
            reply_markup=markup,
            message_thread_id=thread,
            sender=dict(BOT_SENDER),
            date=int(time.time()),
            media=media or {},
            reply_to=reply_to,
        )
        self.messages[(chat_id, msg.message_id)] = msg
        self._record(method, p, msg, file)
        return msg

    def _record(
        self, method: str, p: Json, msg: StoredMessage, file: UploadedFile | None = None
    ) -> None:
        self.sent.append(
            SentRecord(
                seq=len(self.sent),
                method=method,
                params=p,
                chat_id=msg.chat_id,
                message_id=msg.message_id,
                text=msg.text,
                raw_text=msg.raw_text,
                parse_mode=msg.parse_mode,
                reply_markup=msg.reply_markup,
                message_thread_id=msg.message_thread_id,
                message=self._message_json(msg),
                file=file,
            )
        )
        self._notify()

    def _editable(self, p: Json) -> StoredMessage:
        if p.get("inline_message_id"):
            raise bad("MESSAGE_ID_INVALID")  # inline messages are not simulated
        msg = self.messages.get((self._chat_param(p), self._message_id(p)))
        if msg is None:
            raise bad("message to edit not found")
        if not msg.from_bot:
            raise bad("message can't be edited")
        return msg

    def _edit_markup(self, p: Json) -> Json | None:
        markup = self._markup(p)
        return inline_markup(markup)  # edits only carry inline keyboards

    def _topic(self, p: Json) -> ForumTopic:
        thread = p.get("message_thread_id")
        topic = self.topics.get((self._chat_param(p), thread)) if isinstance(thread, int) else None
        if topic is None or topic.deleted:
            raise bad("TOPIC_ID_INVALID")
        return topic

    # ------------------------------------------------------------------ Bot API methods

    async def _api_getMe(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        return {
            **BOT_SENDER,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _api_getUpdates(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = p.get("offset")
        limit = min(max(int(p.get("limit") or 100), 1), 100)
        timeout = max(float(p.get("timeout") or 0), 0.0)
        if "allowed_updates" in p:
            self.allowed_updates = p["allowed_updates"] or None
        if isinstance(offset, int) and offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif isinstance(offset, int) and offset < 0:
            self._pending = self._pending[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # terminates an older long poll, as Telegram does
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            if self._closing:
                return []
            if generation != self._poll_generation:
                raise ApiError(409, CONFLICT)
            for update in list(self._pending):
                kind = next((k for k in update if k != "update_id"), "")
                allowed = self.allowed_updates
                if (kind not in allowed) if allowed else (kind in _OPT_IN_UPDATES):
                    self._pending.remove(update)
                    self.dropped_updates.append(update)
            if self._pending:
                return self._pending[:limit]
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            await self._wait(changed, remaining)

    async def _api_deleteWebhook(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        if p.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook = None
        return True

    async def _api_setWebhook(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        url = str(p.get("url") or "")
        if not url:
            self.webhook = None
            return True
        secret = p.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise bad("secret token contains unallowed characters")
        if "allowed_updates" in p:
            self.allowed_updates = p["allowed_updates"] or None
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": int(p.get("max_connections") or 40),
        }
        self._start_pushing()
        return True

    async def _api_getWebhookInfo(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        info: Json = {"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False}
        info["pending_update_count"] = len(self._pending)
        return info

    # ------------------------------------------------------------------ webhook pushing

    def _start_pushing(self) -> None:
        if self._pushers:
            return
        self._push_queue = asyncio.Queue()
        for update in self._pending:
            self._push_queue.put_nowait(update)
        self._pending = []
        connections = int((self.webhook or {}).get("max_connections", 40))
        self._pushers = [asyncio.create_task(self._pusher()) for _ in range(max(1, connections))]

    async def _pusher(self) -> None:
        """One of `max_connections` connections Telegram keeps to the webhook: it pushes one
        update at a time and reuses the connection (each connects anew only after a failure,
        which with SO_REUSEPORT may land on another worker)."""
        import aiohttp

        assert self._push_queue is not None
        http = aiohttp.ClientSession()
        try:
            while True:
                update = await self._push_queue.get()
                if self.push_delay:
                    await asyncio.sleep(self.push_delay)
                while not self._closing:
                    hook = self.webhook
                    if hook is None:
                        self._pending.append(update)  # webhook removed: back to getUpdates
                        break
                    url = (self.route(update) if self.route else None) or hook["url"]
                    headers = {"Content-Type": "application/json"}
                    if hook.get("secret_token"):
                        headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
                    status = 0
                    try:
                        async with http.post(
                            url,
                            data=_dumps(update),
                            headers=headers,
                            timeout=aiohttp.ClientTimeout(total=60),
                        ) as response:
                            status = response.status
                            await response.read()
                    except (aiohttp.ClientError, TimeoutError):
                        status = 0
                        await http.close()
                        http = aiohttp.ClientSession()
                    self.webhook_posts.append((update["update_id"], url, status))
                    if 200 <= status < 300:
                        self._notify()
                        break
                    await asyncio.sleep(0.3)  # Telegram retries an update until answered 2xx
        finally:
            await http.close()

    def delivered_updates(self) -> set[int]:
        """Ids of updates the bot answered 2xx to (webhook) — Telegram counts them delivered."""
        return {uid for uid, _, status in self.webhook_posts if 200 <= status < 300}

    def post_as_bot(self, chat_id: ChatId, text: str, markup: Json | None = None) -> int:
        """A message the bot sent earlier (set up directly, e.g. request cards for a test that
        starts with them); returns its message_id."""
        msg = StoredMessage(
            chat_id=chat_id,
            message_id=self._alloc_message_id(chat_id),
            from_bot=True,
            kind="text",
            text=text,
            raw_text=text,
            parse_mode=None,
            entities=[],
            reply_markup=markup,
            message_thread_id=None,
            sender=dict(BOT_SENDER),
            date=int(time.time()),
        )
        self.messages[(chat_id, msg.message_id)] = msg
        return msg.message_id

    async def _api_setMyCommands(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            name = str(command.get("command", "")) if isinstance(command, dict) else ""
            description = str(command.get("description", "")) if isinstance(command, dict) else ""
            if not name:
                raise bad("command must be non-empty")
            if len(name) > 32:
                raise bad("command length must not exceed 32")
            if not re.fullmatch(r"[a-z0-9_]+", name):
                raise bad("BOT_COMMAND_INVALID")
            if not description.strip():
                raise bad("command description must be non-empty")
            if len(description) > 256:
                raise bad("command description length must not exceed 256")
        self.commands[self._scope_key(p)] = commands
        return True

    @staticmethod
    def _scope_key(p: Json) -> tuple[str, str]:
        scope = p.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(p.get("language_code") or "")

    async def _api_getMyCommands(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        return self.commands.get(self._scope_key(p), [])

    async def _api_deleteMyCommands(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        self.commands.pop(self._scope_key(p), None)
        return True

    async def _api_setChatMenuButton(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        self.menu_buttons[p.get("chat_id")] = p.get("menu_button") or {"type": "default"}
        return True

    async def _api_getChatMenuButton(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        return self.menu_buttons.get(p.get("chat_id"), {"type": "commands"})

    async def _api_sendMessage(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        chat_id = self._chat_param(p)
        text, entities = self._format(p.get("text"), p.get("parse_mode"), p.get("entities"))
        markup, thread, reply_to = (
            self._markup(p),
            self._thread(chat_id, p),
            self._reply_to(chat_id, p),
        )
        self._gate(chat_id)
        msg = self._new_message(
            "sendMessage",
            p,
            chat_id,
            kind="text",
            text=text,
            raw=p.get("text"),
            entities=entities,
            markup=markup,
            thread=thread,
            reply_to=reply_to,
        )
        return self._message_json(msg)

    async def _send_media(
        self, method: str, kind: str, p: Json, files: dict[str, UploadedFile]
    ) -> Any:
        chat_id = self._chat_param(p)
        ref = p.get(kind)
        upload = files.get(kind)  # some clients post the file under the field name itself
        if isinstance(ref, str) and ref.startswith("attach://"):
            upload = files.get(ref[len("attach://") :])
        if upload is None and not (isinstance(ref, str) and ref):
            raise bad(f"there is no {kind} in the request")
        by_url = isinstance(ref, str) and ref.startswith(("http://", "https://"))
        if upload is None and not by_url and ref not in self.files:
            raise bad("wrong file identifier/HTTP URL specified")
        caption, entities = self._format(
            p.get("caption"), p.get("parse_mode"), p.get("caption_entities"), caption=True
        )
        markup, thread, reply_to = (
            self._markup(p),
            self._thread(chat_id, p),
            self._reply_to(chat_id, p),
        )
        self._gate(chat_id)
        file_id = str(ref) if upload is None and not by_url else self._new_file_id(kind)
        content = upload.content if upload is not None else self.files.get(file_id, b"")
        self.files[file_id] = content
        media = _media_json(kind, file_id, content, upload.filename if upload else None)
        msg = self._new_message(
            method,
            p,
            chat_id,
            kind=kind,
            text=caption,
            raw=p.get("caption"),
            entities=entities,
            markup=markup,
            thread=thread,
            reply_to=reply_to,
            media=media,
            file=upload,
        )
        return self._message_json(msg)

    async def _api_sendDocument(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        return await self._send_media("sendDocument", "document", p, files)

    async def _api_sendPhoto(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        return await self._send_media("sendPhoto", "photo", p, files)

    async def _api_editMessageText(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        msg = self._editable(p)
        if msg.kind != "text":
            raise bad("there is no text in the message to edit")
        text, entities = self._format(p.get("text"), p.get("parse_mode"), p.get("entities"))
        return self._apply_edit("editMessageText", p, msg, text, entities)

    async def _api_editMessageCaption(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        msg = self._editable(p)
        if msg.kind == "text":
            raise bad("there is no caption in the message to edit")
        caption, entities = self._format(
            p.get("caption"), p.get("parse_mode"), p.get("caption_entities"), caption=True
        )
        return self._apply_edit("editMessageCaption", p, msg, caption, entities)

    async def _api_editMessageReplyMarkup(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        msg = self._editable(p)
        return self._apply_edit("editMessageReplyMarkup", p, msg, msg.text, msg.entities)

    def _apply_edit(
        self, method: str, p: Json, msg: StoredMessage, text: str | None, entities: list[Json]
    ) -> Any:
        markup = self._edit_markup(p)  # no reply_markup in an edit removes the keyboard
        check_modified((msg.text, msg.entities, msg.reply_markup), (text, entities, markup))
        self._gate(msg.chat_id, blocked=False)
        if method != "editMessageReplyMarkup":
            msg.raw_text, msg.parse_mode = p.get("text", p.get("caption")), p.get("parse_mode")
        msg.text, msg.entities, msg.reply_markup = text, entities, markup
        msg.edit_date = int(time.time())
        self._record(method, p, msg)
        return self._message_json(msg)

    async def _api_deleteMessage(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        key = (self._chat_param(p), self._message_id(p))
        if key not in self.messages:
            raise bad("message to delete not found")
        del self.messages[key]
        self.deleted.append(key)
        self._notify()
        return True

    async def _api_answerCallbackQuery(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        callback = self.callbacks.get(str(p.get("callback_query_id", "")))
        if callback is None or callback.answered:
            raise bad(QUERY_TOO_OLD)
        check_callback_answer(str(p.get("text") or ""))
        callback.answered, callback.answer = True, p
        self._notify()
        return True

    async def _api_sendChatAction(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        chat_id = self._chat_param(p)
        if p.get("action") not in _CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        self._gate(chat_id, flood=False)
        self.chat_actions.append((chat_id, str(p["action"])))
        return True

    def _source(self, p: Json, what: str) -> StoredMessage:
        src = self.messages.get((self._chat_param(p, "from_chat_id"), self._message_id(p)))
        if src is None:
            raise bad(f"message to {what} not found")
        return src

    async def _api_copyMessage(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        chat_id, src = self._chat_param(p), self._source(p, "copy")
        text, entities, raw = src.text, src.entities, src.raw_text
        if "caption" in p and src.kind != "text":
            raw = p["caption"]
            text, entities = self._format(
                raw, p.get("parse_mode"), p.get("caption_entities"), caption=True
            )
        markup, thread, reply_to = (
            self._markup(p),
            self._thread(chat_id, p),
            self._reply_to(chat_id, p),
        )
        self._gate(chat_id)
        media = {k: v for k, v in src.media.items() if k != "forward_origin"}
        msg = self._new_message(
            "copyMessage",
            p,
            chat_id,
            kind=src.kind,
            text=text,
            raw=raw,
            entities=entities,
            markup=markup,
            thread=thread,
            reply_to=reply_to,
            media=media,
        )
        return {"message_id": msg.message_id}

    async def _api_forwardMessage(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        chat_id, src = self._chat_param(p), self._source(p, "forward")
        thread = self._thread(chat_id, p)
        self._gate(chat_id)
        origin = {"type": "user", "date": src.date, "sender_user": src.sender}
        msg = self._new_message(
            "forwardMessage",
            p,
            chat_id,
            kind=src.kind,
            text=src.text,
            raw=src.raw_text,
            entities=src.entities,
            markup=None,
            thread=thread,
            media={**src.media, "forward_origin": origin},
        )
        return self._message_json(msg)

    async def _api_createForumTopic(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        chat_id = self._chat_param(p)
        if chat_id not in self.forum_chats:
            raise bad("the chat is not a forum")
        check_topic_name(str(p.get("name") or ""))
        topic = ForumTopic(
            chat_id,
            self._alloc_message_id(chat_id),
            str(p["name"]),
            int(p.get("icon_color") or 7322096),
            p.get("icon_custom_emoji_id"),
        )
        self.topics[(chat_id, topic.message_thread_id)] = topic
        return topic.to_json()

    async def _api_editForumTopic(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        topic = self._topic(p)
        check_topic_name(p.get("name"), edit=True)
        name = p.get("name") or topic.name
        emoji = p.get("icon_custom_emoji_id", topic.icon_custom_emoji_id)
        if (name, emoji) == (topic.name, topic.icon_custom_emoji_id):
            raise bad("TOPIC_NOT_MODIFIED")
        topic.name, topic.icon_custom_emoji_id = str(name), emoji
        return True

    async def _api_closeForumTopic(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        topic = self._topic(p)
        if topic.closed:
            raise bad("TOPIC_NOT_MODIFIED")
        topic.closed = True
        return True

    async def _api_reopenForumTopic(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        topic = self._topic(p)
        if not topic.closed:
            raise bad("TOPIC_NOT_MODIFIED")
        topic.closed = False
        return True

    async def _api_deleteForumTopic(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        topic = self._topic(p)
        self.delete_topic(topic.chat_id, topic.message_thread_id)
        return True

    async def _api_getChat(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        data = self._chat_json(self._chat_param(p))
        gifts = (
            "unlimited_gifts",
            "limited_gifts",
            "unique_gifts",
            "premium_subscription",
            "gifts_from_channels",
        )
        data.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {name: False for name in gifts},
            }
        )
        return data

    async def _api_getChatMember(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        chat_id, user_id = self._chat_param(p), p.get("user_id")
        if not isinstance(user_id, int):
            raise bad("invalid user_id specified")
        default = (
            "administrator"
            if user_id == BOT_ID and self._chat_type(chat_id) != "private"
            else "member"
        )
        status = self.chat_members.get((chat_id, user_id), default)
        data: Json = {"status": status, "user": self._user_json(user_id)}
        if status == "administrator":
            data.update({right: True for right in _ADMIN_RIGHTS})
            data.update(can_be_edited=False, is_anonymous=False)
        elif status == "creator":
            data["is_anonymous"] = False
        elif status == "kicked":
            data["until_date"] = 0
        elif status == "restricted":
            data.update(is_member=True, until_date=0)
            data.update({right: False for right in _RESTRICTED_RIGHTS})
        return data

    async def _api_getFile(self, p: Json, files: dict[str, UploadedFile]) -> Any:
        file_id = str(p.get("file_id") or "")
        if file_id not in self.files:
            raise bad("invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_path": f"files/{file_id}",
            "file_size": len(self.files[file_id]),
        }

    # ------------------------------------------------------------------ test helpers

    def push_update(self, payload: Json) -> Json:
        """Queue a raw update (``payload`` without update_id) and return it."""
        self._update_id += 1
        update = {"update_id": self._update_id, **payload}
        self.updates.append(update)
        kind = next((k for k in update if k != "update_id"), "")
        allowed = self.allowed_updates
        if self.webhook is not None and allowed and kind not in allowed:
            self.dropped_updates.append(update)  # Telegram would not send it
        elif self.webhook is not None and self._push_queue is not None:
            self._push_queue.put_nowait(update)
        else:
            self._pending.append(update)
        self._notify()
        return update

    def push_message(
        self,
        user_id: int,
        text: str | None = None,
        *,
        chat_id: ChatId | None = None,
        first_name: str = "Иван",
        username: str | None = None,
        photo: bool = False,
        sticker: bool = False,
        document: bool | str = False,
        caption: str | None = None,
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        chat_type: str | None = None,
        file_content: bytes | None = None,
    ) -> Json:
        """Simulate a user message; ``document`` may be a file name. Returns the update."""
        chat = user_id if chat_id is None else chat_id
        if chat_type is not None:
            self._chat_types[chat] = chat_type
        user: Json = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": "ru",
        }
        if username:
            user["username"] = username
        self._users[user_id] = user
        if message_thread_id is not None and chat in self.forum_chats:
            self.topics.setdefault(
                (chat, message_thread_id), ForumTopic(chat, message_thread_id, "Тема")
            )
        reply_to = None
        if reply_to_message_id is not None:
            reply_to = (chat, reply_to_message_id)
            if reply_to not in self.messages:
                raise AssertionError(f"no message {reply_to_message_id} in chat {chat} to reply to")
        kind, media = "text", {}
        for flag, name in ((photo, "photo"), (sticker, "sticker"), (document, "document")):
            if flag:
                kind = name
                file_id = self._new_file_id(name)
                content = file_content if file_content is not None else b"standin file content"
                self.files[file_id] = content
                media = _media_json(
                    name,
                    file_id,
                    content,
                    document if isinstance(document, str) else "document.pdf",
                )
        body = text if kind == "text" else (caption if caption is not None else text)
        entities: list[Json] = []
        command = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", body or "")
        if command and kind == "text":
            entities.append(
                {"type": "bot_command", "offset": 0, "length": utf16_len(command.group(0))}
            )
        msg = StoredMessage(
            chat_id=chat,
            message_id=self._alloc_message_id(chat),
            from_bot=False,
            kind=kind,
            text=body,
            raw_text=body,
            parse_mode=None,
            entities=entities,
            reply_markup=None,
            message_thread_id=message_thread_id,
            sender=user,
            date=int(time.time()),
            media=media,
            reply_to=reply_to,
        )
        self.messages[(chat, msg.message_id)] = msg
        return self.push_update({"message": self._message_json(msg)})

    def push_edit(self, update: Json, text: str) -> Json:
        """Simulate the user editing the text of a message pushed earlier (``update`` is what
        ``push_message`` returned); Telegram sends an ``edited_message`` update."""
        sent = update["message"]
        msg = self.messages[(sent["chat"]["id"], sent["message_id"])]
        msg.text = msg.raw_text = text
        msg.edit_date = int(time.time())
        return self.push_update({"edited_message": self._message_json(msg)})

    def introduce(self, user_id: int, first_name: str) -> None:
        """The user's profile as Telegram shows it in their updates, before they write."""
        self._users[user_id] = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": "ru",
        }

    def push_callback(
        self, user_id: int, message_id: int, data: str, *, chat_id: ChatId | None = None
    ) -> str:
        """Simulate pressing an inline button of a bot message; returns the callback query id."""
        chat = user_id if chat_id is None else chat_id
        msg = self.messages.get((chat, message_id))
        if msg is not None:
            message = self._message_json(msg)
        elif (chat, message_id) in self.deleted:  # Telegram sends an InaccessibleMessage
            message = {"chat": self._chat_json(chat), "message_id": message_id, "date": 0}
        else:
            raise AssertionError(f"push_callback: there is no message {message_id} in chat {chat}")
        query_id = str(4_000_000_000_000 + len(self.callbacks) + 1)
        self.callbacks[query_id] = CallbackRecord(query_id, user_id, chat, message_id, data)
        self.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self._user_json(user_id),
                    "message": message,
                    "chat_instance": str(chat),
                    "data": data,
                }
            }
        )
        return query_id

    def press(self, user_id: int, button_text: str, *, chat_id: ChatId | None = None) -> str:
        """Press the button with this text (or, failing that, starting with it) on the newest
        bot message in the chat that has one; returns the callback query id."""
        chat = user_id if chat_id is None else chat_id
        candidates = sorted(
            (m for m in self.messages.values() if m.chat_id == chat and m.from_bot and m.buttons),
            key=lambda m: m.message_id,
            reverse=True,
        )
        for exact in (True, False):
            for msg in candidates:
                for button in inline_buttons(msg.reply_markup):
                    label = str(button.get("text", ""))
                    if label == button_text if exact else label.startswith(button_text):
                        if not button.get("callback_data"):
                            raise AssertionError(
                                f"button {label!r} of message {msg.message_id} has no "
                                f"callback_data: {button}"
                            )
                        return self.push_callback(
                            user_id, msg.message_id, str(button["callback_data"]), chat_id=chat
                        )
        available = "\n".join(f"  message {m.message_id}: {m.buttons}" for m in candidates)
        raise AssertionError(
            f"no button {button_text!r} in chat {chat}; available buttons:\n"
            f"{available or '  (no bot messages with inline keyboards)'}"
        )

    async def wait_for_message(
        self,
        chat_id: ChatId,
        predicate: Callable[[SentRecord], bool] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - part of the helper's public signature
        after: int | None = None,
    ) -> SentRecord:
        """Wait for a send/edit in the chat (record index >= ``after``) matching ``predicate``."""
        start = after or 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            for record in self.sent[start:]:
                if record.chat_id == chat_id and (predicate is None or predicate(record)):
                    return record
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(self._timeout_report(chat_id, timeout, start))
            await self._wait(changed, remaining)

    def _timeout_report(self, chat_id: ChatId, timeout: float, start: int) -> str:
        in_chat = [r for r in self.sent if r.chat_id == chat_id]
        lines = [
            f"no matching message from the bot in chat {chat_id} within {timeout}s "
            f"(looking at records from #{start}); last ones in this chat:"
        ]
        lines += [f"  {r.describe()}" for r in in_chat[-5:]] or ["  (nothing)"]
        if self.errors:
            lines.append("refused requests:")
            lines += [f"  {e.method} -> {e.status} {e.description}" for e in self.errors[-5:]]
        return "\n".join(lines)

    def last_message(self, chat_id: ChatId) -> SentRecord:
        """The newest send/edit record in the chat."""
        for record in reversed(self.sent):
            if record.chat_id == chat_id:
                return record
        raise AssertionError(f"the bot has not sent anything to chat {chat_id}")

    def unanswered_callbacks(self) -> list[str]:
        return [cid for cid, callback in self.callbacks.items() if not callback.answered]

    def delete_topic(self, chat_id: ChatId, thread_id: int) -> None:
        """Delete a forum topic (as an admin would) together with its messages."""
        topic = self.topics.setdefault((chat_id, thread_id), ForumTopic(chat_id, thread_id, "?"))
        topic.deleted = True
        for key, msg in list(self.messages.items()):
            if msg.chat_id == chat_id and msg.message_thread_id == thread_id:
                del self.messages[key]
                self.deleted.append(key)


def _media_json(kind: str, file_id: str, content: bytes, filename: str | None) -> Json:
    base = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(content)}
    if kind == "photo":
        return {
            "photo": [
                {**base, "file_id": f"{file_id}", "width": 90, "height": 90},
                {**base, "width": 800, "height": 800},
            ]
        }
    if kind == "sticker":
        return {
            "sticker": {
                **base,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "👍",
            }
        }
    name = filename or "document"
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return {"document": {**base, "file_name": name, "mime_type": mime}}
