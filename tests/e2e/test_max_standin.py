"""Tests of the MAX Bot API stand-in, driven with plain aiohttp calls (no project code)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

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
