"""Tests of the MAX Bot API stand-in, driven with plain aiohttp calls (no project code)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from .max_standin import (
    BOT_USER_ID,
    DEFAULT_TOKEN,
    MaxApiStandin,
    make_mid,
    parse_mid,
)

USER = 1001
OTHER = 1002


@pytest.fixture
async def mx() -> AsyncIterator[MaxApiStandin]:
    async with MaxApiStandin() as server:
        server.timeout_hold = 0.3
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Api:
    """A minimal MAX client: the raw HTTP calls a bot makes."""

    def __init__(self, mx: MaxApiStandin, http: aiohttp.ClientSession) -> None:
        self.mx, self.http = mx, http

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        token: str | None = DEFAULT_TOKEN,
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - the client's own request timeout
    ) -> tuple[int, Any]:
        """(status, parsed JSON body or text)."""
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = token
        query = {k: str(v) for k, v in (params or {}).items()}
        async with self.http.request(
            method,
            self.mx.url + path,
            json=json,
            params=query,
            headers=all_headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.text()

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        status, body = await self.call(method, path, **kwargs)
        assert status == 200, (status, body)
        return body

    async def refused(self, status: int, code: str, method: str, path: str, **kwargs: Any) -> str:
        """Make a call that must be refused with this status and code; check it was recorded
        in ``errors`` and return the message."""
        before = len(self.mx.errors)
        got_status, body = await self.call(method, path, **kwargs)
        assert (got_status, body.get("code") if isinstance(body, dict) else body) == (
            status,
            code,
        ), body
        assert set(body) == {"code", "message"}
        assert len(self.mx.errors) == before + 1, "the refusal was not recorded"
        error = self.mx.errors[-1]
        assert (error.status, error.code, error.message) == (status, code, body["message"])
        return str(body["message"])


@pytest.fixture
def api(mx: MaxApiStandin, http: aiohttp.ClientSession) -> Api:
    return Api(mx, http)


# --------------------------------------------------------------------------- auth, /me


async def test_auth_is_the_bare_token_in_the_authorization_header(
    mx: MaxApiStandin, api: Api
) -> None:
    me = await api.ok("GET", "/me")
    assert me["user_id"] == BOT_USER_ID and me["is_bot"] is True
    assert (me["first_name"], me["username"], me["name"]) == (
        "ВИМИС",
        "vimis_test_bot",
        "ВИМИС",
    )
    invalid = "Invalid access_token"
    assert await api.refused(401, "verify.token", "GET", "/me", token=None) == invalid
    assert await api.refused(401, "verify.token", "GET", "/me", token="wrong") == invalid
    bearer = f"Bearer {DEFAULT_TOKEN}"
    assert await api.refused(401, "verify.token", "GET", "/me", token=bearer) == invalid
    in_query = {"access_token": DEFAULT_TOKEN}
    assert await api.refused(401, "verify.token", "GET", "/me", token=None, params=in_query)
    # Even next to a correct header: the token must never be in a URL.
    assert await api.refused(401, "verify.token", "GET", "/me", params=in_query)
    assert len(mx.errors) == 5 and len(mx.calls) == 6
    assert [c.path for c in mx.calls] == ["/me"] * 6

    custom = MaxApiStandin(token="another-token")
    async with custom:
        status, _ = await Api(custom, api.http).call("GET", "/me", token="another-token")
        assert status == 200


async def test_unknown_path_and_wrong_method(mx: MaxApiStandin, api: Api) -> None:
    await api.refused(404, "not.found", "GET", "/frobnicate")
    await api.refused(405, "method.not.allowed", "DELETE", "/me")
    await api.refused(400, "proto.payload", "PATCH", "/me/commands", json=[1, 2])
    status, body = await api.call(
        "PATCH", "/me/commands", headers={"Content-Type": "application/json"}, json=None
    )
    assert status == 400 and body["code"] == "proto.payload"


async def test_commands(mx: MaxApiStandin, api: Api) -> None:
    commands = [
        {"name": "start", "description": "Главное меню"},
        {"name": "help", "description": "Помощь"},
    ]
    assert await api.ok("PATCH", "/me/commands", json={"commands": commands}) == {
        "commands": commands
    }
    assert mx.commands == commands
    assert (await api.ok("GET", "/me"))["commands"] == commands

    def cmd(name: str, description: str = "Описание") -> dict[str, str]:
        return {"name": name, "description": description}

    bad_lists = [
        [cmd(f"c{i}") for i in range(33)],
        [cmd("/start")],
        [cmd("")],
        [cmd("x" * 65)],
        [cmd("two words")],
        [cmd("start"), cmd("start")],
        [cmd("start", "")],
        [cmd("start", "д" * 129)],
        [{"name": "start"}],
    ]
    for bad in bad_lists:
        await api.refused(400, "proto.payload", "PATCH", "/me/commands", json={"commands": bad})
    assert mx.commands == commands  # refusals change nothing
    await api.ok("PATCH", "/me/commands", json={"commands": [cmd(f"c{i}") for i in range(32)]})
    await api.ok("PATCH", "/me/commands", json={"commands": [cmd("x" * 64, "д" * 128)]})
    assert await api.ok("PATCH", "/me/commands", json={"commands": []}) == {"commands": []}
    assert "commands" not in await api.ok("GET", "/me")

    # MAX switched PATCH /me off (15.09.2026).
    message = await api.refused(404, "not.found", "PATCH", "/me", json={"commands": commands})
    assert "/me/commands" in message


# --------------------------------------------------------------------------- ids


def test_mid_format_matches_live_mids() -> None:
    # Live dialog message (notes §2): chat 472107880, seq 116993690454357274.
    assert make_mid(472107880, 116993690454357274) == "mid.000000001c23cb68019fa524407e751a"
    assert parse_mid("mid.000000001c23cb68019fa524407e751a") == (472107880, 116993690454357274)
    assert 116993690454357274 >> 16 == 1785182044286  # seq's high bits: the timestamp
    # A group's negative id is two's-complement (maxapi tests).
    assert make_mid(-73455901853123, 1).startswith("mid.ffffbd3137103a3d")
    assert parse_mid(make_mid(-73455901853123, 5)) == (-73455901853123, 5)
    assert parse_mid("mid.sha-more") is None and parse_mid("12") is None


async def test_dialog_and_group_chats(mx: MaxApiStandin, api: Api) -> None:
    dialog = mx.introduce(USER, "Мария", last_name="Петрова", username="masha")
    assert dialog == mx.dialog_chat_id(USER) and dialog > 0 and dialog != USER
    assert mx.dialog_chat_id(OTHER) != dialog
    chat = await api.ok("GET", f"/chats/{dialog}")
    assert (chat["chat_id"], chat["type"], chat["status"]) == (dialog, "dialog", "active")
    assert chat["dialog_with_user"]["user_id"] == USER
    assert chat["dialog_with_user"]["name"] == "Мария Петрова"

    group = mx.create_group("Поддержка", members=[USER, OTHER])
    assert group < 0 and mx.create_group("Вторая") != group
    chat = await api.ok("GET", f"/chats/{group}")
    assert (chat["type"], chat["title"], chat["participants_count"]) == ("chat", "Поддержка", 3)

    await api.refused(404, "chat.not.found", "GET", f"/chats/{mx.dialog_chat_id(OTHER)}")
    await api.refused(404, "chat.not.found", "GET", "/chats/-5")
    await api.refused(404, "not.found", "GET", "/chats/abc")


# --------------------------------------------------------------------------- faults


async def test_faults_on_any_call(mx: MaxApiStandin, api: Api) -> None:
    mx.fail("GET /me", None, "500", "503", "502", "404", "403", "429")
    assert await api.call("GET", "/me") == (
        500,
        {"code": "internal.error", "message": "Internal error"},
    )
    assert (await api.call("GET", "/me"))[0] == 503
    status, page = await api.call("GET", "/me")
    assert status == 502 and isinstance(page, str) and "<html>" in page
    assert (await api.call("GET", "/me"))[1]["code"] == "not.found"
    assert (await api.call("GET", "/me"))[1]["code"] == "chat.denied"
    async with api.http.get(mx.url + "/me", headers={"Authorization": DEFAULT_TOKEN}) as resp:
        assert resp.status == 429 and "Retry-After" not in resp.headers
        assert await resp.json() == {
            "code": "too.many.requests",
            "message": "Too many requests. Limit is: 10 calls per second.",
        }
    assert (await api.call("GET", "/me"))[0] == 200  # the faults are used up
    assert [f for _, _, f in mx.injected] == ["500", "503", "502", "404", "403", "429"]
    assert [e.status for e in mx.errors] == [500, 503, 404, 403, 429]  # 502 is a proxy's page

    # PATCH, not GET: aiohttp silently retries an idempotent call after a dropped connection.
    one = {"commands": [{"name": "one", "description": "Один"}]}
    mx.fail("PATCH /me/commands", None, "drop")
    with pytest.raises(aiohttp.ClientError):
        await api.call("PATCH", "/me/commands", json=one)
    assert mx.commands == []  # dropped before the call took effect
    mx.fail("/me/commands", None, "drop_after")
    with pytest.raises(aiohttp.ClientError):
        await api.call("PATCH", "/me/commands", json=one)
    assert [c["name"] for c in mx.commands] == ["one"]  # took effect, the answer was lost
    mx.fail(None, None, "timeout")
    started = time.monotonic()
    with pytest.raises(aiohttp.ClientError):
        await api.call("PATCH", "/me/commands", json={"commands": []})
    assert time.monotonic() - started >= 0.25
    assert [c["name"] for c in mx.commands] == ["one"]
    with pytest.raises(ValueError, match="unknown faults"):
        mx.fail(None, None, "418")


async def test_per_chat_faults_and_rate_limit(mx: MaxApiStandin, api: Api) -> None:
    dialog = mx.introduce(USER, "Мария")
    group = mx.create_group(members=[USER])
    mx.fail("GET /chats/{id}", None, "500")  # not a path: never matches
    mx.fail(None, group, "500")
    assert (await api.call("GET", f"/chats/{dialog}"))[0] == 200
    assert (await api.call("GET", f"/chats/{group}"))[0] == 500
    assert (await api.call("GET", f"/chats/{group}"))[0] == 200
    assert mx.injected == [(f"GET /chats/{group}", group, "500")]

    mx.enforce_limits = True
    statuses = await asyncio.gather(*(api.call("GET", "/me") for _ in range(14)))
    assert sorted(s for s, _ in statuses).count(429) == 4
    assert mx.flood_refusals == 4
    await asyncio.sleep(1.05)
    assert (await api.call("GET", "/me"))[0] == 200


# --------------------------------------------------------------------------- messages


def cb(text: str, payload: str) -> dict[str, Any]:
    return {"type": "callback", "text": text, "payload": payload}


def link_button(text: str, url: str = "https://max.ru") -> dict[str, Any]:
    return {"type": "link", "text": text, "url": url}


def kb(*rows: list[dict[str, Any]]) -> dict[str, Any]:
    """An inline_keyboard attachment."""
    return {"type": "inline_keyboard", "payload": {"buttons": [list(r) for r in rows]}}


async def send(api: Api, chat_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """POST /messages?chat_id=; returns the Message."""
    answer = await api.ok("POST", "/messages", params={"chat_id": chat_id}, json=body)
    assert set(answer) == {"message"}
    return dict(answer["message"])


async def test_send_to_dialog_and_group_mids_and_seq(mx: MaxApiStandin, api: Api) -> None:
    dialog = mx.introduce(USER, "Мария")
    group = mx.create_group("Поддержка", members=[USER])
    started = int(time.time() * 1000)
    first = await send(api, dialog, {"text": "Привет"})
    assert first["recipient"] == {"chat_id": dialog, "chat_type": "dialog", "user_id": USER}
    assert first["sender"]["user_id"] == BOT_USER_ID and first["sender"]["is_bot"] is True
    assert first["body"]["text"] == "Привет" and "attachments" not in first["body"]
    # By user id, the same dialog.
    by_user = await api.ok("POST", "/messages", params={"user_id": USER}, json={"text": "2"})
    second = by_user["message"]
    assert second["recipient"]["chat_id"] == dialog
    in_group = await send(api, group, {"text": "всем"})
    assert in_group["recipient"] == {"chat_id": group, "chat_type": "chat"}
    third = await send(api, dialog, {"text": "3"})

    seqs = [m["body"]["seq"] for m in (first, second, third)]
    assert seqs == sorted(set(seqs)), "seq must grow within a chat"
    for message in (first, second, third, in_group):
        body, chat = message["body"], message["recipient"]["chat_id"]
        assert body["mid"] == make_mid(chat, body["seq"])
        assert parse_mid(body["mid"]) == (chat, body["seq"])
        assert body["seq"] >> 16 == message["timestamp"] >= started
    assert in_group["body"]["mid"].startswith("mid.ffff")
    assert first["body"]["mid"].startswith(f"mid.{dialog:016x}")
    assert [r.mid for r in mx.sent] == [m["body"]["mid"] for m in (first, second, in_group, third)]
    record = mx.sent[0]
    assert (record.method, record.chat_id, record.text, record.format) == (
        "POST",
        dialog,
        "Привет",
        None,
    )
    fetched = await api.ok("GET", f"/messages/{first['body']['mid']}")
    assert fetched["body"] == first["body"] and fetched["recipient"] == first["recipient"]
    assert mx.errors == []


async def test_text_length_and_empty_messages(mx: MaxApiStandin, api: Api) -> None:
    dialog = mx.introduce(USER, "Мария")
    await send(api, dialog, {"text": "я" * 4000})
    await send(api, dialog, {"text": "😀" * 2000})  # 4000 UTF-16 units
    too_long = "text: size must be between 0 and 4000"
    for text in ("я" * 4001, "😀" * 2001, "<b>" + "я" * 3995 + "</b>"):
        message = await api.refused(
            400,
            "proto.payload",
            "POST",
            "/messages",
            params={"chat_id": dialog},
            json={"text": text, "format": "html"},
        )
        assert message == too_long  # the raw text counts, tags included
    empties: list[dict[str, Any]] = [
        {},
        {"text": ""},
        {"text": None},
        {"text": "  \n"},
        {"attachments": []},
    ]
    for body in empties:
        await api.refused(
            400, "proto.payload", "POST", "/messages", params={"chat_id": dialog}, json=body
        )
    empty_html = {"text": "<b></b>", "format": "html"}
    await api.refused(
        400, "proto.payload", "POST", "/messages", params={"chat_id": dialog}, json=empty_html
    )
    # A keyboard alone is a message.
    only_keyboard = await send(api, dialog, {"attachments": [kb([cb("Да", "yes")])]})
    assert only_keyboard["body"]["text"] is None
    mx.max_text_length = 3999  # maxapi's reading (OQ 11), for a test that wants it
    await api.refused(
        400,
        "proto.payload",
        "POST",
        "/messages",
        params={"chat_id": dialog},
        json={"text": "я" * 4000},
    )
    assert len(mx.sent) == 3


async def test_send_refusals_chat_user_link_and_stopped(mx: MaxApiStandin, api: Api) -> None:
    dialog = mx.introduce(USER, "Мария")
    other_dialog = mx.introduce(OTHER, "Олег")
    hello = {"text": "привет"}
    # Unknown chat or user, ambiguous or missing destination, bad parameters.
    unknown = mx.dialog_chat_id(9999)
    await api.refused(
        404, "chat.not.found", "POST", "/messages", params={"chat_id": unknown}, json=hello
    )
    await api.refused(
        404, "chat.not.found", "POST", "/messages", params={"user_id": 9999}, json=hello
    )
    await api.refused(
        404, "chat.not.found", "POST", "/messages", params={"chat_id": USER}, json=hello
    )
    await api.refused(
        404, "chat.not.found", "POST", "/messages", params={"chat_id": -1}, json=hello
    )
    both = {"chat_id": dialog, "user_id": USER}
    await api.refused(400, "proto.payload", "POST", "/messages", params=both, json=hello)
    await api.refused(400, "proto.payload", "POST", "/messages", json=hello)
    await api.refused(
        400, "proto.payload", "POST", "/messages", params={"chat_id": "x"}, json=hello
    )
    for body in ({"text": 5}, {"text": "x", "format": "HTML"}, {"text": "x", "notify": "no"}):
        await api.refused(
            400, "proto.payload", "POST", "/messages", params={"chat_id": dialog}, json=body
        )

    # link.mid must exist (in this chat, for a reply).
    first = await send(api, dialog, {"text": "вопрос"})
    mid = first["body"]["mid"]
    reply = await send(api, dialog, {"text": "ответ", "link": {"type": "reply", "mid": mid}})
    assert reply["link"]["type"] == "reply" and reply["link"]["message"]["mid"] == mid
    assert reply["link"]["message"]["text"] == "вопрос"
    assert reply["link"]["sender"]["user_id"] == BOT_USER_ID
    for link in (
        {"type": "reply", "mid": make_mid(dialog, 1)},
        {"type": "reply", "mid": "mid.0000"},
        {"type": "quote", "mid": mid},
        {"mid": mid},
    ):
        await api.refused(
            400,
            "proto.payload",
            "POST",
            "/messages",
            params={"chat_id": dialog},
            json={"text": "x", "link": link},
        )
    not_here = {"text": "x", "link": {"type": "reply", "mid": mid}}
    await api.refused(
        400, "proto.payload", "POST", "/messages", params={"chat_id": other_dialog}, json=not_here
    )
    forwarded = await send(api, other_dialog, {"link": {"type": "forward", "mid": mid}})
    assert forwarded["link"]["chat_id"] == dialog and forwarded["body"]["text"] is None

    # A user who stopped (or blocked) the bot: 403 chat.denied, sends and edits.
    mx.stopped_users.add(USER)
    await api.refused(
        403, "chat.denied", "POST", "/messages", params={"chat_id": dialog}, json=hello
    )
    await api.refused(403, "chat.denied", "POST", "/messages", params={"user_id": USER}, json=hello)
    await api.refused(
        403, "chat.denied", "PUT", "/messages", params={"message_id": mid}, json=hello
    )
    await send(api, other_dialog, hello)
    assert [r.chat_id for r in mx.sent] == [dialog, dialog, other_dialog, other_dialog]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([[cb(f"{i}", f"{i}")] for i in range(31)], "errors.maxRows: 31 rows, at most 30"),
        ([[cb(f"{i}", f"{i}") for i in range(8)]], "row 1 has 8 buttons, at most 7"),
        ([[link_button(f"{i}") for i in range(4)]], "row 1 has 4 link/open_app/request buttons"),
        (
            [
                [
                    link_button("a"),
                    {"type": "open_app", "text": "b"},
                    {"type": "request_contact", "text": "c"},
                    {"type": "request_geo_location", "text": "d"},
                ]
            ],
            "has 4 link/open_app/request buttons",
        ),
        ([[cb(f"{r}.{i}", "x") for i in range(7)] for r in range(31)], "errors.maxRows"),
        ([[cb("", "x")]], "has empty text"),
        ([[cb("   ", "x")]], "has empty text"),
        ([[cb("я" * 129, "x")]], "button text: size must be between 1 and 128"),
        ([[cb("😀" * 65, "x")]], "button text: size must be between 1 and 128"),
        ([[cb("Да", "")]], "needs a `payload`"),
        ([[{"type": "callback", "text": "Да"}]], "needs a `payload`"),
        ([[cb("Да", "я" * 513)]], "is 1026 bytes, at most 1024"),
        ([[link_button("Сайт", "ftp://example.com")]], "must be an http:// or https:// link"),
        ([[link_button("Сайт", "example.com")]], "must be an http:// or https:// link"),
        ([[link_button("Сайт", "https://example.com/" + "a" * 2030)]], "longer than 2048"),
        ([[link_button("Сайт", "https:///path")]], "has no host"),
        ([[{"type": "link", "text": "Сайт"}]], "is empty"),
        ([[{"type": "web_app", "text": "x"}]], "unknown button type 'web_app'"),
        ([[{"text": "x", "callback_data": "y"}]], "unknown button type None"),
        ([[{**cb("Да", "y"), "intent": "danger"}]], "unknown intent"),
        ([], "need"),
        ([[]], "need"),
        ([["x"]], "a button must be an object"),
    ],
)
async def test_keyboard_limits(
    mx: MaxApiStandin, api: Api, rows: list[list[Any]], expected: str
) -> None:
    dialog = mx.introduce(USER, "Мария")
    message = await api.refused(
        400,
        "proto.payload",
        "POST",
        "/messages",
        params={"chat_id": dialog},
        json={"text": "x", "attachments": [kb(*rows)]},
    )
    assert expected in message
    assert mx.sent == []


async def test_keyboard_at_its_limits_is_accepted(mx: MaxApiStandin, api: Api) -> None:
    dialog = mx.introduce(USER, "Мария")
    full = [[cb(f"{r}.{i}", f"{r}:{i}") for i in range(7)] for r in range(30)]  # 210 buttons
    mixed = [link_button("a"), link_button("b"), {"type": "open_app", "text": "c"}]
    mixed += [
        cb("d", "d"),
        {"type": "message", "text": "e"},
        {"type": "request_contact", "text": "f"},
    ]
    edge = [
        cb("я" * 128, "я" * 512),  # 128 characters, 1024 bytes
        link_button("url", "https://example.com/" + "a" * 2028),  # 2048 characters
        {**cb("intent", "i"), "intent": "positive"},
    ]
    for rows in (full, [mixed[:3] + mixed[3:4]], [edge]):
        message = await send(api, dialog, {"text": "ok", "attachments": [kb(*rows)]})
        assert message["body"]["attachments"] == [kb(*rows)]  # echoed as sent
    assert len(mx.sent[0].buttons) == 210
    assert mx.sent[0].payload("29.6") == "29:6"
    assert mx.sent[2].urls == [None, "https://example.com/" + "a" * 2028, None]
    assert mx.sent[2].payloads == ["я" * 512, None, "i"]

    # maxapi's tighter reading (OQ 6) can be switched on by a test.
    mx.max_button_text, mx.max_payload_bytes = 64, 256
    for button in (cb("я" * 65, "x"), cb("x", "x" * 257)):
        await api.refused(
            400,
            "proto.payload",
            "POST",
            "/messages",
            params={"chat_id": dialog},
            json={"text": "x", "attachments": [kb([button])]},
        )
    refused = {"text": "x", "attachments": [kb([cb("a", "a")]), kb([cb("b", "b")])]}
    await api.refused(
        400, "proto.payload", "POST", "/messages", params={"chat_id": dialog}, json=refused
    )
    sticker = {"text": "x", "attachments": [{"type": "sticker", "payload": {"code": "1"}}]}
    await api.refused(
        400, "proto.payload", "POST", "/messages", params={"chat_id": dialog}, json=sticker
    )


# --------------------------------------------------------------------------- HTML


async def test_html_markup_plain_text_and_stripped_tags(mx: MaxApiStandin, api: Api) -> None:
    dialog = mx.introduce(USER, "Мария")
    html = (
        "<b>Заявка</b> №1 &amp; <i>статус</i>: &lt;новая&gt; &quot;ок&quot;&#33;\n"
        '<a href="https://example.com/?a=1&amp;b=2">ссылка</a> <u>под</u><s>черк</s>'
        '<pre><code>x = 1</code></pre><mark>важно</mark> <a href="max://user/77">Мария</a>'
    )
    message = await send(api, dialog, {"text": html, "format": "html"})
    text = 'Заявка №1 & статус: <новая> "ок"!\nссылка подчеркx = 1важно Мария'
    assert message["body"]["text"] == text
    markup = {
        (m["type"], text[m["from"] : m["from"] + m["length"]]) for m in message["body"]["markup"]
    }
    assert markup == {
        ("strong", "Заявка"),
        ("emphasized", "статус"),
        ("link", "ссылка"),
        ("underline", "под"),
        ("strikethrough", "черк"),
        ("monospaced", "x = 1"),
        ("highlighted", "важно"),
        ("user_mention", "Мария"),
    }
    link = next(m for m in message["body"]["markup"] if m["type"] == "link")
    assert link["url"] == "https://example.com/?a=1&b=2"
    mention = next(m for m in message["body"]["markup"] if m["type"] == "user_mention")
    assert mention["user_id"] == 77
    record = mx.sent[-1]
    assert (record.text, record.raw_text, record.format) == (text, html, "html")
    assert mx.stripped_tags == []

    # Offsets are UTF-16 units: an emoji before the bold text counts 2.
    emoji = await send(api, dialog, {"text": "😀 <strong>жирный</strong>", "format": "html"})
    assert emoji["body"]["markup"] == [{"type": "strong", "from": 3, "length": 6}]

    # Tags MAX does not render are stripped (content kept) and recorded.
    telegram_html = (
        "<blockquote>цитата</blockquote> <tg-spoiler>секрет</tg-spoiler> "
        '<span class="tg-spoiler">ещё</span> <tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
        "<br/>конец<br>"
    )
    stripped = await send(api, dialog, {"text": telegram_html, "format": "html"})
    assert stripped["body"]["text"] == "цитата секрет ещё 👍конец"
    assert "markup" not in stripped["body"]
    assert mx.stripped_tags == ["blockquote", "tg-spoiler", "span", "tg-emoji", "br", "br"]
    assert mx.sent[-1].stripped_tags == mx.stripped_tags

    # Without format: "html" the text is stored as sent.
    plain = await send(api, dialog, {"text": "<b>не жирный</b> & <blockquote>"})
    assert plain["body"]["text"] == "<b>не жирный</b> & <blockquote>"
    markdown = await send(api, dialog, {"text": "**жирный**", "format": "markdown"})
    assert markdown["body"]["text"] == "**жирный**"  # markdown is not parsed
    assert len(mx.stripped_tags) == 6 and mx.errors == []


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<b>x", "unclosed tag <b>"),
        ("<b><i>x</b></i>", "end tag </b> at position 7 does not close <i>"),
        ("x</b>", "unexpected end tag </b>"),
        ("<b", "unclosed tag <b"),
        ("a < b", 'unescaped "<" at position 2'),
        ("1 <2", 'unescaped "<"'),
        ("Том & Джерри", 'unescaped "&" at position 4'),
        ("&amp", 'unescaped "&"'),
        ("&nbsp;", "unknown character reference '&nbsp;'"),
        ("&#0;", "invalid character reference"),
        ("<a>x</a>", "<a> at position 0: href is empty"),
        ('<a href="javascript:alert(1)">x</a>', "must be an http:// or https:// link"),
        ('<a href="tg://user?id=1">x</a>', "must be an http:// or https:// link"),
        ("<b/>", "must have content and an end tag"),
        ("<blockquote>x", "unclosed tag <blockquote>"),
        ('<a href="x"title="y">x</a>', "malformed attributes"),
        ("</ b>", "malformed end tag"),
        ("<!-- comment -->", 'unescaped "<"'),
    ],
)
async def test_malformed_html_is_refused(
    mx: MaxApiStandin, api: Api, html: str, expected: str
) -> None:
    dialog = mx.introduce(USER, "Мария")
    message = await api.refused(
        400,
        "proto.payload",
        "POST",
        "/messages",
        params={"chat_id": dialog},
        json={"text": html, "format": "html"},
    )
    assert message.startswith("Invalid HTML: ") and expected in message
    assert mx.sent == [] and mx.stripped_tags == []


# --------------------------------------------------------------------------- edit, delete


async def edit(api: Api, mid: str, body: dict[str, Any]) -> None:
    assert await api.ok("PUT", "/messages", params={"message_id": mid}, json=body) == {
        "success": True
    }


async def test_edit_keeps_removes_and_replaces_the_keyboard(mx: MaxApiStandin, api: Api) -> None:
    dialog = mx.introduce(USER, "Мария")
    yes = kb([cb("Да", "yes")])
    sent = await send(
        api, dialog, {"text": "<b>Вопрос</b>", "format": "html", "attachments": [yes]}
    )
    mid = sent["body"]["mid"]

    await edit(api, mid, {"text": "Вопрос 2"})  # attachments omitted: keyboard kept
    assert mx.messages[mid].attachments == [yes] and mx.messages[mid].text == "Вопрос 2"
    assert mx.messages[mid].markup == []  # the new text has no format
    await edit(api, mid, {"text": "Вопрос 3", "attachments": None})  # null: kept
    assert mx.last_message(dialog).buttons == ["Да"]
    await edit(api, mid, {"attachments": [kb([cb("Нет", "no")])]})  # no text: text kept
    assert (mx.messages[mid].text, mx.last_message(dialog).buttons) == ("Вопрос 3", ["Нет"])
    await edit(api, mid, {"text": "Готово", "attachments": []})  # []: removed
    assert mx.messages[mid].attachments == [] and mx.last_message(dialog).buttons == []
    fetched = await api.ok("GET", f"/messages/{mid}")
    assert fetched["body"]["text"] == "Готово" and "attachments" not in fetched["body"]
    assert fetched["body"]["seq"] == sent["body"]["seq"]  # the same message

    # MAX has no "message is not modified": a no-op edit succeeds but is counted.
    assert mx.noop_edits == 0
    await edit(api, mid, {"text": "Готово"})
    await edit(api, mid, {"text": "Готово", "attachments": []})
    assert mx.noop_edits == 2 and [r.noop for r in mx.sent[-3:]] == [False, True, True]
    assert [r.method for r in mx.sent] == ["POST"] + ["PUT"] * 6

    # Edits are validated like sends.
    refusals = [
        {"text": "я" * 4001},
        {"text": "<b>x", "format": "html"},
        {"attachments": [kb([cb("", "x")])]},
        {"text": "", "attachments": []},  # nothing left
    ]
    for body in refusals:
        await api.refused(
            400, "proto.payload", "PUT", "/messages", params={"message_id": mid}, json=body
        )
    unknown = make_mid(dialog, 12345)
    await api.refused(
        404, "not.found", "PUT", "/messages", params={"message_id": unknown}, json={"text": "x"}
    )
    await api.refused(400, "proto.payload", "PUT", "/messages", json={"text": "x"})
    assert mx.messages[mid].text == "Готово" and len(mx.sent) == 7


async def test_delete_and_get(mx: MaxApiStandin, api: Api) -> None:
    dialog = mx.introduce(USER, "Мария")
    mid = (await send(api, dialog, {"text": "удали меня"}))["body"]["mid"]
    assert await api.ok("DELETE", "/messages", params={"message_id": mid}) == {"success": True}
    assert mid not in mx.messages and mx.deleted == [mid]
    await api.refused(404, "not.found", "DELETE", "/messages", params={"message_id": mid})
    await api.refused(404, "not.found", "GET", f"/messages/{mid}")
    await api.refused(
        404, "not.found", "PUT", "/messages", params={"message_id": mid}, json={"text": "x"}
    )
    await api.refused(400, "proto.payload", "DELETE", "/messages")


async def test_wait_for_message_and_last_message(mx: MaxApiStandin, api: Api) -> None:
    dialog = mx.introduce(USER, "Мария")
    group = mx.create_group(members=[USER])
    before = len(mx.sent)

    async def answer_later() -> None:
        await asyncio.sleep(0.2)
        await send(api, dialog, {"text": "думаю…"})
        await send(api, group, {"text": "не туда"})
        await send(api, dialog, {"text": "готово"})

    task = asyncio.create_task(answer_later())
    record = await mx.wait_for_message(
        dialog, lambda r: r.text == "готово", timeout=3, after=before
    )
    await task
    assert record.text == "готово" and record.method == "POST"
    assert mx.last_message(dialog).text == "готово"
    assert mx.last_message(group).text == "не туда"
    assert (await mx.wait_for_message(dialog, after=before)).text == "думаю…"
    with pytest.raises(AssertionError) as timeout:
        await mx.wait_for_message(dialog, lambda r: r.text == "никогда", timeout=0.3)
    assert "готово" in str(timeout.value) and "думаю" in str(timeout.value)
    with pytest.raises(AssertionError):
        mx.last_message(mx.dialog_chat_id(OTHER))

    mark = len(mx.sent)
    await edit(api, record.mid, {"text": "готово!"})
    edited = await mx.wait_for_message(dialog, after=mark, timeout=1)
    assert edited.method == "PUT" and edited.text == "готово!" and edited.mid == record.mid


async def test_chat_actions(mx: MaxApiStandin, api: Api) -> None:
    dialog = mx.introduce(USER, "Мария")
    assert await api.ok("POST", f"/chats/{dialog}/actions", json={"action": "typing_on"}) == {
        "success": True
    }
    await api.refused(
        400, "proto.payload", "POST", f"/chats/{dialog}/actions", json={"action": "typing"}
    )
    await api.refused(
        404, "chat.not.found", "POST", "/chats/-9/actions", json={"action": "typing_on"}
    )
    assert mx.chat_actions == [(dialog, "typing_on")]


# --------------------------------------------------------------------------- long polling


async def poll(api: Api, **params: Any) -> tuple[list[dict[str, Any]], int | None]:
    answer = await api.ok("GET", "/updates", params=params, timeout=10)
    assert set(answer) == {"updates", "marker"}
    return answer["updates"], answer["marker"]


async def test_long_polling_with_marker(mx: MaxApiStandin, api: Api) -> None:
    waiting = asyncio.create_task(poll(api, timeout=5))
    await asyncio.sleep(0.3)
    assert not waiting.done(), "GET /updates returned before any update was pushed"
    started = time.monotonic()
    pushed = mx.push_message(USER, "/start")
    updates, marker = await asyncio.wait_for(waiting, 3)
    assert time.monotonic() - started < 1  # answered on the push, not at its timeout
    assert updates == [pushed] and isinstance(marker, int)

    # Not confirmed yet: the same update comes again with the old marker ...
    again, _ = await poll(api, marker=marker - 1, timeout=0)
    assert again == [pushed]
    # ... and never once the marker passes it.
    first = mx.push_message(USER, "раз")
    second = mx.push_bot_stopped(USER)
    batch, marker2 = await poll(api, marker=marker, timeout=0)
    assert batch == [first, second] and marker2 is not None and marker2 > marker
    third = mx.push_message(USER, "три")
    batch, marker3 = await poll(api, marker=marker2, timeout=0)
    assert batch == [third]

    # Nothing new: the poll is held for its timeout, then answers empty with the same marker.
    started = time.monotonic()
    assert await poll(api, marker=marker3, timeout=1) == ([], marker3)
    assert 0.9 <= time.monotonic() - started < 2.5
    assert mx.pending_updates() == []
    # Every update delivered exactly once, in order.
    assert mx.delivered_updates() == mx.updates == [pushed, first, second, third]

    # limit
    for i in range(3):
        mx.push_message(USER, f"m{i}")
    batch, marker4 = await poll(api, marker=marker3, limit=2, timeout=0)
    assert [u["message"]["body"]["text"] for u in batch] == ["m0", "m1"]
    batch, _ = await poll(api, marker=marker4, limit=2, timeout=0)
    assert [u["message"]["body"]["text"] for u in batch] == ["m2"]


async def test_long_polling_refusals_types_and_markerless_poll(mx: MaxApiStandin, api: Api) -> None:
    for params in (
        {"timeout": 91},
        {"timeout": -1},
        {"limit": 0},
        {"limit": 1001},
        {"marker": "abc"},
        {"marker": -5},
        {"types": "message_created,sticker"},
    ):
        await api.refused(400, "proto.payload", "GET", "/updates", params=params)
    assert mx.calls[-1].query == {"types": "message_created,sticker"}

    # types: the others are not delivered (and are gone once skipped).
    sent = await send(
        api, mx.introduce(USER, "Мария"), {"text": "?", "attachments": [kb([cb("A", "a")])]}
    )
    mx.push_callback(USER, sent["body"]["mid"], "a")
    text = mx.push_message(USER, "текст")
    batch, marker = await poll(api, marker=0, types="message_created,bot_started", timeout=0)
    assert batch == [text]
    assert [u["update_type"] for u in mx.dropped_updates] == ["message_callback"]

    # Without a marker, only the newest update (notes §2, the current schema); the rest is
    # lost, including `text`, which no marker confirmed.
    older = [mx.push_message(USER, f"старое {i}") for i in range(3)]
    newest = mx.push_message(USER, "новое")
    batch, marker = await poll(api, timeout=0)
    assert batch == [newest] and mx.skipped_updates == [text, *older]
    assert await poll(api, marker=marker, timeout=0) == ([], marker)
    mx.markerless_poll = "all"
    more = [mx.push_message(USER, "a"), mx.push_message(USER, "b")]
    batch, marker = await poll(api, timeout=0)
    assert batch == more

    # A newer poll releases an older one (empty answer, the marker it was given).
    held = asyncio.create_task(poll(api, marker=marker, timeout=5))
    await asyncio.sleep(0.2)
    assert (await poll(api, marker=marker, timeout=0))[0] == []
    assert await asyncio.wait_for(held, 2) == ([], marker)
    assert mx.superseded_polls == 1


# --------------------------------------------------------------------------- pushed updates


async def test_pushed_updates_have_maxs_shapes(mx: MaxApiStandin, api: Api) -> None:
    dialog = mx.dialog_chat_id(USER)
    started = mx.push_bot_started(USER, "ref_42", first_name="Мария", last_name="Петрова")
    assert set(started) == {
        "timestamp",
        "chat_id",
        "user",
        "user_locale",
        "user_id",
        "payload",
        "update_type",
    }
    assert (started["update_type"], started["chat_id"], started["user_id"]) == (
        "bot_started",
        dialog,
        USER,
    )
    assert started["payload"] == "ref_42" and started["user_locale"] == "ru"
    user = started["user"]
    assert set(user) == {
        "user_id",
        "first_name",
        "last_name",
        "is_bot",
        "last_activity_time",
        "name",
    }
    assert (user["name"], user["is_bot"]) == ("Мария Петрова", False)
    assert "payload" not in mx.push_bot_started(USER, "x" * 513)  # MAX drops it
    assert mx.push_bot_started(USER, "x" * 512)["payload"] == "x" * 512

    created = mx.push_message(USER, "Тест", username="masha")
    assert list(created) == ["message", "timestamp", "user_locale", "update_type"]
    message = created["message"]
    assert set(message) == {"recipient", "timestamp", "body", "sender"}
    # In a dialog the recipient's user_id is the bot when the user writes (notes §2).
    assert message["recipient"] == {
        "chat_id": dialog,
        "chat_type": "dialog",
        "user_id": BOT_USER_ID,
    }
    assert message["sender"]["user_id"] == USER and message["sender"]["username"] == "masha"
    body = message["body"]
    assert set(body) == {"mid", "seq", "text"} and body["text"] == "Тест"
    assert (
        body["mid"] == make_mid(dialog, body["seq"]) and body["seq"] >> 16 == message["timestamp"]
    )

    bot_message = await send(api, dialog, {"text": "Вопрос?"})
    reply = mx.push_message(USER, "Ответ", reply_to=bot_message["body"]["mid"])
    link = reply["message"]["link"]
    assert link["type"] == "reply" and "chat_id" not in link
    assert (
        link["message"]["mid"] == bot_message["body"]["mid"]
        and link["message"]["text"] == "Вопрос?"
    )
    assert link["sender"]["user_id"] == BOT_USER_ID
    with pytest.raises(AssertionError):
        mx.push_message(USER, "x", reply_to=make_mid(dialog, 1))
    seqs = [body["seq"], bot_message["body"]["seq"], reply["message"]["body"]["seq"]]
    assert seqs == sorted(seqs)  # users' and the bot's messages share the chat's seq

    edited = mx.push_edit(created, "Тест (испр.)")
    assert list(edited) == ["message", "timestamp", "update_type"]
    assert (
        edited["update_type"] == "message_edited"
        and edited["message"]["body"]["text"] == "Тест (испр.)"
    )
    assert edited["message"]["body"]["mid"] == body["mid"]

    stopped = mx.push_bot_stopped(USER)
    assert set(stopped) == {"timestamp", "chat_id", "user", "user_locale", "update_type"}
    assert stopped["chat_id"] == dialog
    await api.refused(
        403, "chat.denied", "POST", "/messages", params={"chat_id": dialog}, json={"text": "x"}
    )
    mx.push_bot_started(USER)
    await send(api, dialog, {"text": "снова можно"})

    # Groups: negative id, no user_id in the recipient, no user_locale.
    group = mx.create_group("Поддержка")
    added = mx.push_bot_added(group, USER)
    assert {k: added[k] for k in ("chat_id", "user_id", "is_channel", "update_type")} == {
        "chat_id": group,
        "user_id": USER,
        "is_channel": False,
        "update_type": "bot_added",
    }
    joined = mx.add_member(group, OTHER, inviter_id=USER)
    assert (joined["update_type"], joined["user_id"], joined["inviter_id"]) == (
        "user_added",
        OTHER,
        USER,
    )
    assert mx.add_member(group, 1003)["inviter_id"] is None  # joined by link
    in_group = mx.push_message(OTHER, "всем привет", chat_id=group, first_name="Олег")
    assert list(in_group) == ["message", "timestamp", "update_type"]
    assert in_group["message"]["recipient"] == {"chat_id": group, "chat_type": "chat"}
    assert in_group["message"]["body"]["mid"].startswith("mid.ffff")
    with pytest.raises(AssertionError, match="create_group"):
        mx.push_message(USER, "x", chat_id=-12345)

    # A bot that is not an admin gets nothing from the group but bot_added/bot_removed.
    quiet = mx.create_group("Без прав", members=[USER], bot_admin=False)
    count = len(mx.updates)
    mx.push_message(USER, "не видно", chat_id=quiet)
    mx.add_member(quiet, OTHER)
    assert len(mx.updates) == count and len(mx.dropped_updates) == 2
    removed = mx.push_bot_removed(quiet, USER)
    assert removed["update_type"] == "bot_removed" and mx.updates[-1] is removed
    await api.refused(
        403, "chat.denied", "POST", "/messages", params={"chat_id": quiet}, json={"text": "x"}
    )


# --------------------------------------------------------------------------- callbacks


async def test_press_and_callback_shape(mx: MaxApiStandin, api: Api) -> None:
    dialog = mx.introduce(USER, "Мария")
    keyboard = kb([cb("✅ Принять", "accept:1"), cb("Помощь ❓", "help")], [link_button("Сайт")])
    menu = await send(api, dialog, {"text": "Меню", "attachments": [keyboard]})

    callback_id = mx.press(USER, "Помощь")  # prefix match
    update = mx.updates[-1]
    assert list(update) == ["callback", "message", "timestamp", "user_locale", "update_type"]
    assert update["update_type"] == "message_callback"
    callback = update["callback"]
    assert set(callback) == {"timestamp", "callback_id", "user", "payload"}
    assert callback["callback_id"] == callback_id and len(callback_id) >= 30
    assert callback["payload"] == "help" and callback["user"]["user_id"] == USER
    # The message is the bot's, with its keyboard; recipient.user_id is the user.
    message = update["message"]
    assert message["body"]["mid"] == menu["body"]["mid"]
    assert message["body"]["attachments"] == [keyboard]
    assert message["recipient"] == {"chat_id": dialog, "chat_type": "dialog", "user_id": USER}
    assert message["sender"]["is_bot"] is True

    assert mx.updates[-1]["callback"]["payload"] == "help"
    mx.press(USER, "✅ Принять")
    assert mx.updates[-1]["callback"]["payload"] == "accept:1"
    newer = await send(
        api, dialog, {"text": "ещё", "attachments": [kb([cb("Помощь ❓", "help2")])]}
    )
    mx.press(USER, "Помощь ❓")
    assert mx.updates[-1]["callback"]["payload"] == "help2"
    assert mx.updates[-1]["message"]["body"]["mid"] == newer["body"]["mid"]
    with pytest.raises(AssertionError, match="not a callback"):
        mx.press(USER, "Сайт")
    with pytest.raises(AssertionError, match="Нет такой") as missing:
        mx.press(USER, "Нет такой")
    assert "Принять" in str(missing.value)

    await api.ok("DELETE", "/messages", params={"message_id": menu["body"]["mid"]})
    mx.push_callback(USER, menu["body"]["mid"], "accept:1")
    assert mx.updates[-1]["message"] is None  # deleted: MAX sends null
    assert len(mx.unanswered_callbacks()) == 4


async def test_answers(mx: MaxApiStandin, api: Api) -> None:
    dialog = mx.introduce(USER, "Мария")
    keyboard = kb([cb("Да", "yes")])
    sent = await send(api, dialog, {"text": "Вопрос", "attachments": [keyboard]})
    mid = sent["body"]["mid"]
    first, second, third = (mx.press(USER, "Да") for _ in range(3))

    # Neither message nor notification: MAX's exact refusal.
    status, body = await api.call("POST", "/answers", params={"callback_id": first}, json={})
    assert (status, body) == (
        400,
        {"code": "proto.payload", "message": "`message` or `notification` required"},
    )
    for empty in ({"message": None, "notification": None}, {"notification": ""}):
        await api.refused(
            400, "proto.payload", "POST", "/answers", params={"callback_id": first}, json=empty
        )
    assert mx.unanswered_callbacks() == [first, second, third]

    # A notification only.
    ok = await api.ok(
        "POST", "/answers", params={"callback_id": first}, json={"notification": "Принято"}
    )
    assert ok == {"success": True}
    assert mx.notifications == [(USER, "Принято")] and mx.callbacks[first].notification == "Принято"
    # Answered once only; unknown ids are refused the same way.
    for callback_id in (first, "no-such-callback"):
        await api.refused(
            404,
            "not.found",
            "POST",
            "/answers",
            params={"callback_id": callback_id},
            json={"notification": "x"},
        )

    # `message` edits the keyboard's message in place: omitted attachments keep the keyboard ...
    await api.ok(
        "POST", "/answers", params={"callback_id": second}, json={"message": {"text": "Принято"}}
    )
    record = mx.last_message(dialog)
    assert (record.method, record.mid, record.text, record.buttons) == (
        "answer",
        mid,
        "Принято",
        ["Да"],
    )
    # ... and [] removes it.
    await api.ok(
        "POST",
        "/answers",
        params={"callback_id": third},
        json={"message": {"text": "Готово", "attachments": []}, "notification": "ok"},
    )
    assert mx.messages[mid].attachments == [] and mx.last_message(dialog).buttons == []
    assert mx.unanswered_callbacks() == []
    assert mx.callbacks[third].message == {"text": "Готово", "attachments": []}
    assert [r.method for r in mx.sent] == ["POST", "answer", "answer"]

    # The answer's message is validated like an edit.
    fourth = mx.push_callback(USER, mid, "yes")
    await api.refused(
        400,
        "proto.payload",
        "POST",
        "/answers",
        params={"callback_id": fourth},
        json={"message": {"text": "<b>x", "format": "html"}},
    )
    assert mx.unanswered_callbacks() == [fourth]
    await api.ok("DELETE", "/messages", params={"message_id": mid})
    await api.refused(
        404,
        "not.found",
        "POST",
        "/answers",
        params={"callback_id": fourth},
        json={"message": {"text": "x"}},
    )
    await api.ok(
        "POST",
        "/answers",
        params={"callback_id": fourth},
        json={"notification": "Сообщение удалено"},
    )


# --------------------------------------------------------------------------- webhook


class Receiver:
    """The bot's webhook endpoint: records what MAX posts and answers scripted statuses
    (200 once the script is used up)."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.received: list[tuple[dict[str, str], Any]] = []  # (headers, JSON body)
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.json()))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


async def until(condition: Any, timeout: float = 3.0) -> None:  # noqa: ASYNC109
    """Wait (polling) until ``condition()`` is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_webhook_subscription_refusals(mx: MaxApiStandin, api: Api) -> None:
    for body in (
        {},
        {"url": "http://example.com/hook"},  # plain http: only on 127.0.0.1, for tests
        {"url": "https://example.com:8443/hook"},  # MAX wants 443
        {"url": "ftp://example.com/hook"},
        {"url": "https://"},
        {"url": "https://example.com/hook", "secret": "abcd"},  # 5..256
        {"url": "https://example.com/hook", "secret": "bad secret!"},
        {"url": "https://example.com/hook", "secret": "x" * 257},
        {"url": "https://example.com/hook", "update_types": ["message_created", "sticker"]},
    ):
        await api.refused(400, "proto.payload", "POST", "/subscriptions", json=body)
    assert mx.subscriptions == []
    https = {"url": "https://bot.example.com/hook", "secret": "s3cr3t_-OK"}
    assert await api.ok("POST", "/subscriptions", json=https) == {"success": True}
    await api.ok("POST", "/subscriptions", json={"url": "https://bot.example.com:443/other"})
    listed = await api.ok("GET", "/subscriptions")
    assert [s["url"] for s in listed["subscriptions"]] == [
        https["url"],
        "https://bot.example.com:443/other",
    ]
    assert "secret" not in listed["subscriptions"][0]
    # While subscribed, long polling is refused.
    message = await api.refused(409, "conflict", "GET", "/updates")
    assert "webhook" in message
    await api.refused(400, "proto.payload", "DELETE", "/subscriptions")
    missing = await api.ok("DELETE", "/subscriptions", params={"url": "https://nope.example.com"})
    assert missing["success"] is False
    for sub in listed["subscriptions"]:
        assert (await api.ok("DELETE", "/subscriptions", params={"url": sub["url"]}))["success"]
    assert (await api.ok("GET", "/subscriptions")) == {"subscriptions": []}
    assert await poll(api, timeout=0) == ([], 1)


async def test_webhook_push_secret_and_retry(mx: MaxApiStandin, api: Api) -> None:
    mx.webhook_retry_delay = 0.1
    waiting = mx.push_bot_started(USER)  # not polled yet: goes to the webhook
    async with Receiver() as hook:
        hook.statuses = [500, 204]  # only a 200 counts as delivered
        subscription = {
            "url": hook.url,
            "secret": "s3cr3t_token",
            "update_types": ["bot_started", "message_created"],
        }
        await api.ok("POST", "/subscriptions", json=subscription)
        # The stand-in records a post's status after the answer reaches it: wait for both.
        await until(lambda: len(hook.received) == 3 and len(mx.webhook_posts) == 3)
        assert [p.status for p in mx.webhook_posts] == [500, 204, 200]
        for headers, body in hook.received:
            assert headers["X-Max-Bot-Api-Secret"] == "s3cr3t_token"
            assert headers["Content-Type"] == "application/json"
            assert body == waiting  # a bare Update, not {"updates": [...]}
        assert mx.delivered_updates() == [waiting]

        created = mx.push_message(USER, "привет")
        sent = await send(
            api, mx.dialog_chat_id(USER), {"text": "?", "attachments": [kb([cb("A", "a")])]}
        )
        mx.push_callback(USER, sent["body"]["mid"], "a")  # not in update_types
        second = mx.push_message(USER, "второе")
        await until(lambda: len(hook.received) == 5)
        assert [body for _, body in hook.received[3:]] == [created, second]
        assert [u["update_type"] for u in mx.dropped_updates] == ["message_callback"]
        assert mx.delivered_updates() == [waiting, created, second]

        # Re-subscribing the same URL replaces the subscription (now without a secret).
        await api.ok("POST", "/subscriptions", json={"url": hook.url})
        assert len(mx.subscriptions) == 1 and mx.subscriptions[0].secret is None
        third = mx.push_message(USER, "третье")
        await until(lambda: len(hook.received) == 6)
        assert "X-Max-Bot-Api-Secret" not in hook.received[-1][0]
        assert hook.received[-1][1] == third

        # A webhook that keeps failing: retried, then given up.
        mx.webhook_max_attempts = 3
        hook.statuses = [500] * 3
        lost = mx.push_message(USER, "потеряно")
        await until(lambda: mx.lost_updates == [lost])
        assert [p.status for p in mx.webhook_posts[-3:]] == [500, 500, 500]
        assert lost not in mx.delivered_updates()

    # The receiver is gone: no answer (status 0); after unsubscribing, polling gets it.
    mx.webhook_max_attempts = 50
    orphan = mx.push_message(USER, "никто не ответил")
    await until(lambda: any(p.status == 0 for p in mx.webhook_posts))
    await api.ok("DELETE", "/subscriptions", params={"url": mx.subscriptions[0].url})
    batch, _ = await poll(api, marker=0, timeout=0)
    assert batch == [orphan]


async def test_subscribing_releases_a_held_long_poll(mx: MaxApiStandin, api: Api) -> None:
    held = asyncio.create_task(poll(api, marker=1, timeout=5))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    await api.ok("POST", "/subscriptions", json={"url": "https://bot.example.com/hook"})
    assert await asyncio.wait_for(held, 2) == ([], 1)
    assert time.monotonic() - started < 1


# --------------------------------------------------------------------------- uploads

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
NOT_READY = {
    "code": "attachment.not.ready",
    "message": "Key: errors.process.attachment.file.not.processed",
}


async def upload(
    api: Api, kind: str, content: bytes, filename: str = "отчёт.pdf", field: str = "data"
) -> tuple[int, Any]:
    """POST /uploads, then the multipart POST to the URL it gives (no token, as MAX's upload
    host needs none); returns the upload host's (status, body)."""
    slot = await api.ok("POST", "/uploads", params={"type": kind})
    assert slot["url"].startswith(f"{api.mx.url}/upload/")
    form = aiohttp.FormData(quote_fields=False)  # the file name in UTF-8, as aiogram sends it
    form.add_field(field, content, filename=filename, content_type="application/octet-stream")
    async with api.http.post(slot["url"], data=form) as resp:
        if resp.content_type == "application/json":
            return resp.status, await resp.json()
        return resp.status, await resp.text()


async def test_file_upload_not_ready_then_sent(mx: MaxApiStandin, api: Api) -> None:
    dialog = mx.introduce(USER, "Мария")
    content = b"%PDF-1.4 report"
    status, answer = await upload(api, "file", content)
    assert status == 200 and set(answer) == {"token"}
    token = answer["token"]
    assert [(u.filename, u.content, u.type) for u in mx.uploads] == [("отчёт.pdf", content, "file")]

    body = {"text": "Отчёт", "attachments": [{"type": "file", "payload": {"token": token}}]}
    status, refusal = await api.call("POST", "/messages", params={"chat_id": dialog}, json=body)
    assert (status, refusal) == (400, NOT_READY)
    assert mx.sent == [] and mx.errors[-1].code == "attachment.not.ready"
    message = await send(api, dialog, body)  # the retry goes through
    attachment = message["body"]["attachments"][0]
    assert (attachment["type"], attachment["filename"], attachment["size"]) == (
        "file",
        "отчёт.pdf",
        len(content),
    )
    assert attachment["payload"]["token"] == token
    async with api.http.get(attachment["payload"]["url"]) as resp:
        assert resp.status == 200 and await resp.read() == content
    record = mx.last_message(dialog)
    assert [f.content for f in record.files] == [content] and record.files[
        0
    ].filename == "отчёт.pdf"
    await send(api, mx.create_group(members=[USER]), body)  # a processed token is reusable

    # A file must be the only attachment; tokens must exist and be of the right type.
    with_keyboard = {"attachments": [body["attachments"][0], kb([cb("Да", "yes")])]}
    as_image = {"attachments": [{"type": "image", "payload": {"token": token}}]}
    for bad in (
        with_keyboard,
        as_image,
        {"attachments": [{"type": "file", "payload": {"token": "forged"}}]},
        {"attachments": [{"type": "file"}]},
    ):
        await api.refused(
            400, "proto.payload", "POST", "/messages", params={"chat_id": dialog}, json=bad
        )

    # not_ready_sends: how many sends a fresh token is refused (edits count too).
    mx.not_ready_sends = 2
    _, answer = await upload(api, "file", b"second", "второй.txt")
    fresh = {"attachments": [{"type": "file", "payload": {"token": answer["token"]}}]}
    mid = message["body"]["mid"]
    for _ in range(2):
        assert (await api.call("PUT", "/messages", params={"message_id": mid}, json=fresh))[
            1
        ] == NOT_READY
    await api.ok("PUT", "/messages", params={"message_id": mid}, json=fresh)
    assert mx.messages[mid].attachments[0]["filename"] == "второй.txt"
    mx.not_ready_sends = 0
    _, answer = await upload(api, "file", b"third")
    await send(
        api, dialog, {"attachments": [{"type": "file", "payload": {"token": answer["token"]}}]}
    )


async def test_upload_refusals_and_other_types(mx: MaxApiStandin, api: Api) -> None:
    dialog = mx.introduce(USER, "Мария")
    for params in ({"type": "photo"}, {"type": "document"}, {}):
        await api.refused(400, "proto.payload", "POST", "/uploads", params=params)

    # Each upload URL takes one file, in the multipart field `data`.
    slot = await api.ok("POST", "/uploads", params={"type": "file"})
    form = aiohttp.FormData()
    form.add_field("file", b"x", filename="x.txt")
    async with api.http.post(slot["url"], data=form) as resp:
        assert resp.status == 400 and (await resp.json())["code"] == "proto.payload"
    async with api.http.post(slot["url"], data=b"raw bytes") as resp:
        assert resp.status == 400
    statuses = []
    for _ in range(2):
        form = aiohttp.FormData()
        form.add_field("data", b"x", filename="x.txt")
        async with api.http.post(slot["url"], data=form) as resp:
            statuses.append(resp.status)
    assert statuses == [200, 400] and "has been used" in mx.errors[-1].message
    async with api.http.post(f"{mx.url}/upload/nope", data=b"") as resp:
        assert resp.status == 404

    # aiohttp's default FormData percent-encodes a non-ASCII file name; the stand-in keeps it
    # as received (whether MAX decodes it is unknown).
    slot = await api.ok("POST", "/uploads", params={"type": "file"})
    form = aiohttp.FormData()
    form.add_field("data", b"x", filename="отчёт.pdf")
    async with api.http.post(slot["url"], data=form) as resp:
        assert resp.status == 200
    assert mx.uploads[-1].filename == "%D0%BE%D1%82%D1%87%D1%91%D1%82.pdf"

    # An image that is not one: the upload host answers 200 with the error in the body.
    status, answer = await upload(api, "image", b"not an image", "photo.jpg")
    assert (status, answer) == (200, {"error_code": "503", "error_data": "IMAGE_INVALID_FORMAT"})
    assert (mx.errors[-1].status, mx.errors[-1].code) == (200, "IMAGE_INVALID_FORMAT")
    status, answer = await upload(api, "image", PNG, "photo.png")
    assert status == 200 and list(answer) == ["photos"]
    (photo,) = answer["photos"].values()
    assert set(photo) == {"token"}
    # Images may come with a keyboard; by token, by the photos map, or by URL.
    keyboard = kb([cb("Да", "yes")])
    for payload in ({"token": photo["token"]}, {"photos": answer["photos"]}):
        attachments = [{"type": "image", "payload": payload}, keyboard]
        if "token" in payload:  # the first send with the fresh token
            status, refusal = await api.call(
                "POST", "/messages", params={"chat_id": dialog}, json={"attachments": attachments}
            )
            assert (status, refusal["code"]) == (400, "attachment.not.ready")
            assert refusal["message"] == "Key: errors.process.attachment.image.not.processed"
        sent = await send(api, dialog, {"attachments": attachments})
        image = sent["body"]["attachments"][0]
        assert image["type"] == "image" and image["payload"]["token"] == photo["token"]
    by_url = await send(
        api,
        dialog,
        {"attachments": [{"type": "image", "payload": {"url": "https://example.com/a.png"}}]},
    )
    assert by_url["body"]["attachments"][0]["payload"] == {"url": "https://example.com/a.png"}
    await api.refused(
        400,
        "proto.payload",
        "POST",
        "/messages",
        params={"chat_id": dialog},
        json={"attachments": [{"type": "image", "payload": {"url": "file:///etc/passwd"}}]},
    )

    # Video/audio: the token comes with the URL; it is not ready until the file is uploaded.
    slot = await api.ok("POST", "/uploads", params={"type": "video"})
    assert set(slot) == {"url", "token"}
    video = {"attachments": [{"type": "video", "payload": {"token": slot["token"]}}]}
    status, refusal = await api.call("POST", "/messages", params={"chat_id": dialog}, json=video)
    assert (status, refusal["message"]) == (
        400,
        "Key: errors.process.attachment.video.not.processed",
    )
    form = aiohttp.FormData()
    form.add_field("data", b"\x00\x00\x00\x18ftypmp42", filename="clip.mp4")
    async with api.http.post(slot["url"], data=form) as resp:
        assert resp.status == 200 and await resp.text() == "<retval>1</retval>"
    assert (await api.call("POST", "/messages", params={"chat_id": dialog}, json=video))[0] == 400
    sent = await send(api, dialog, video)
    assert sent["body"]["attachments"][0]["type"] == "video"

    # Faults on the upload host.
    mx.fail("POST /upload", None, "500", "drop_after")
    status, _ = await upload(api, "file", b"x")
    assert status == 500
    count = len(mx.uploads)
    with pytest.raises(aiohttp.ClientError):
        await upload(api, "file", b"stored, answer lost")
    assert len(mx.uploads) == count + 1 and mx.uploads[-1].content == b"stored, answer lost"


async def test_user_files_in_pushed_messages(mx: MaxApiStandin, api: Api) -> None:
    content = b"%PDF-1.4 application"
    update = mx.push_message(USER, "Заявление", document="заявление.pdf", file_content=content)
    (attachment,) = update["message"]["body"]["attachments"]
    assert (attachment["type"], attachment["filename"], attachment["size"]) == (
        "file",
        "заявление.pdf",
        len(content),
    )
    assert set(attachment["payload"]) == {"url", "token"}
    async with api.http.get(attachment["payload"]["url"]) as resp:  # a direct link, no token
        assert await resp.read() == content
    photo = mx.push_message(USER, photo=True)["message"]["body"]
    assert photo["text"] is None and photo["attachments"][0]["type"] == "image"
    assert set(photo["attachments"][0]["payload"]) == {"photo_id", "token", "url"}
    # The bot may re-send a user's file by its token.
    dialog = mx.dialog_chat_id(USER)
    await send(
        api,
        dialog,
        {"attachments": [{"type": "file", "payload": {"token": attachment["payload"]["token"]}}]},
    )
    assert mx.uploads == [] and mx.last_message(dialog).files[0].content == content


# --------------------------------------------------------------------------- faults on messages


async def test_faults_on_messages_per_chat(mx: MaxApiStandin, api: Api) -> None:
    dialog = mx.introduce(USER, "Мария")
    other = mx.introduce(OTHER, "Олег")
    hello = {"text": "привет"}
    mx.fail("POST /messages", dialog, "500", "502", "429", "drop", "drop_after", "timeout", "403")
    # Another chat is not affected.
    await send(api, other, hello)
    assert (await api.call("POST", "/messages", params={"chat_id": dialog}, json=hello))[0] == 500
    status, page = await api.call("POST", "/messages", params={"chat_id": dialog}, json=hello)
    assert status == 502 and "Bad Gateway" in page
    status, body = await api.call("POST", "/messages", params={"user_id": USER}, json=hello)
    assert (status, body["code"]) == (429, "too.many.requests")  # user_id targets the dialog
    assert [r.chat_id for r in mx.sent] == [other]  # none of these took effect
    with pytest.raises(aiohttp.ClientError):  # dropped before the effect
        await api.call("POST", "/messages", params={"chat_id": dialog}, json={"text": "drop"})
    assert [r.chat_id for r in mx.sent] == [other]
    with pytest.raises(aiohttp.ClientError):  # the effect happened, the answer was lost
        await api.call("POST", "/messages", params={"chat_id": dialog}, json={"text": "drop_after"})
    assert mx.last_message(dialog).text == "drop_after"
    started = time.monotonic()
    with pytest.raises(aiohttp.ClientError):
        await api.call("POST", "/messages", params={"chat_id": dialog}, json={"text": "timeout"})
    assert time.monotonic() - started >= 0.25 and mx.last_message(dialog).text == "drop_after"
    assert (await api.call("POST", "/messages", params={"chat_id": dialog}, json=hello))[1] == {
        "code": "chat.denied",
        "message": "Bot has no access to the chat",
    }
    await send(api, dialog, hello)  # the faults are used up
    assert [kind for _, chat, kind in mx.injected if chat == dialog] == [
        "500",
        "502",
        "429",
        "drop",
        "drop_after",
        "timeout",
        "403",
    ]

    # PUT/DELETE are matched by the chat inside the mid, /answers by the callback's chat.
    mid = mx.last_message(dialog).mid
    mx.fail(None, dialog, "404", "503")
    assert (await api.call("PUT", "/messages", params={"message_id": mid}, json={"text": "x"}))[
        0
    ] == 404
    assert (await api.call("DELETE", "/messages", params={"message_id": mid}))[0] == 503
    assert mid in mx.messages and mx.messages[mid].text == "привет"
    keyboard_mid = (await send(api, dialog, {"text": "?", "attachments": [kb([cb("Да", "y")])]}))[
        "body"
    ]["mid"]
    callback_id = mx.press(USER, "Да")
    mx.fail("POST /answers", dialog, "500")
    answer = {"notification": "ok"}
    assert (await api.call("POST", "/answers", params={"callback_id": callback_id}, json=answer))[
        0
    ] == 500
    assert mx.unanswered_callbacks() == [callback_id]
    await api.ok("POST", "/answers", params={"callback_id": callback_id}, json=answer)
    assert mx.injected[-1] == ("POST /answers", dialog, "500") and keyboard_mid in mx.messages

    # latency delays every answer.
    mx.latency = 0.3
    started = time.monotonic()
    await api.ok("GET", "/me")
    assert time.monotonic() - started >= 0.28


async def raw_get(mx: MaxApiStandin, target: str, *, hang_up_after: float | None = None) -> bytes:
    """A GET over a bare socket (aiohttp's client would silently retry a dropped GET);
    returns the raw answer, or b"" if there was none.  ``hang_up_after``: the client gives up
    after that many seconds."""
    port = int(mx.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {mx.token}\r\n"
        "Connection: close\r\n\r\n"
    )
    writer.write(request.encode())
    await writer.drain()
    try:
        if hang_up_after is not None:
            await asyncio.sleep(hang_up_after)
            return b""
        return await reader.read()
    finally:
        writer.close()


async def test_polled_updates_count_as_delivered_only_when_the_answer_arrives(
    mx: MaxApiStandin, api: Api
) -> None:
    assert (await raw_get(mx, "/me")).startswith(b"HTTP/1.1 200")
    # The bot's client gives up on a long poll; an update that arrives then is not lost.
    await raw_get(mx, "/updates?marker=0&timeout=5", hang_up_after=0.2)
    await asyncio.sleep(0.1)
    first = mx.push_message(USER, "раз")
    await asyncio.sleep(0.2)
    assert mx.delivered_updates() == [] and mx.pending_updates() == [first]

    mx.fail("GET /updates", None, "drop_after")
    assert await raw_get(mx, "/updates?marker=0&timeout=0") == b""  # the answer was lost
    assert mx.delivered_updates() == [] and mx.pending_updates() == [first]

    second = mx.push_message(USER, "два")
    batch, _ = await poll(api, marker=0, timeout=0)
    assert batch == [first, second] and mx.delivered_updates() == [first, second]
